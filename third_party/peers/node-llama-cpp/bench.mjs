// Measures node-llama-cpp (its own prebuilt llama.cpp) on a GGUF file as
// the Go benchmarks measure our binding, and prints one JSON object:
// prefill tokens/s at 512 and 2048 tokens (median of REPEATS), decode
// tokens/s generating 64 tokens greedily after a 16-token prompt in 1 and in
// 8 sequences of one context, and the process's peak resident memory.
//
//   node bench.mjs MODEL.gguf THREADS REPEATS [prefill,decode]
//
// The last argument chooses the figures (default both).
import {getLlama} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const [modelPath, threadsArg, repeatsArg, figuresArg] = process.argv.slice(2);
const figures = (figuresArg || "prefill,decode").split(",");
const threads = Number(threadsArg), repeats = Number(repeatsArg);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});

// The same English text as the Go benchmarks.
let text = "";
for (let i = 0; text.length < 8 * 2048; i++) {
    text += `Roll ${i}: Travis rolls a d20 for perception and gets ${1 + i % 20}; Matt says the corridor is quiet. `;
}
const tokens = model.tokenize(text);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

const prefill = {};
for (const n of figures.includes("prefill") ? [512, 2048] : []) {
    const runs = [];
    for (let r = 0; r < repeats; r++) {
        const ctx = await model.createContext({contextSize: 4096, batchSize: 2048, threads});
        const start = process.hrtime.bigint();
        await ctx.getSequence().evaluateWithoutGeneratingNewTokens(tokens.slice(0, n));
        runs.push(n / seconds(start));
        await ctx.dispose();
    }
    prefill[n] = median(runs);
    console.error(`node-llama-cpp: prefill ${n}: ${prefill[n].toFixed(1)} tokens/s`);
}

const decode = {};
const prompt = tokens.slice(0, 16), gen = 64;
for (const seqs of figures.includes("decode") ? [1, 8] : []) {
    const runs = [];
    for (let r = 0; r < repeats; r++) {
        const ctx = await model.createContext({contextSize: seqs * 1024, sequences: seqs, threads});
        const start = process.hrtime.bigint();
        const counts = await Promise.all(Array.from({length: seqs}, async () => {
            let n = 0;
            for await (const _ of ctx.getSequence().evaluate(prompt, {temperature: 0})) {
                if (++n >= gen) break;
            }
            return n;
        }));
        runs.push(counts.reduce((a, b) => a + b, 0) / seconds(start));
        await ctx.dispose();
    }
    decode[seqs] = median(runs);
    console.error(`node-llama-cpp: decode ${seqs} sequence(s): ${decode[seqs].toFixed(1)} tokens/s`);
}

const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
console.log(JSON.stringify({prefill, decode, peak_rss_mib: hwm ? Number(hwm[1]) / 1024 : null, threads}));
await model.dispose();
