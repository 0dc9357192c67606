// Runs a GGUF model through node-llama-cpp (its own prebuilt llama.cpp) and
// prints, as one JSON object: the greedy continuation of a prompt as token
// ids, and prompt-processing throughput on a chunk of text.
//
//   node peer.mjs MODEL.gguf PROMPT N_GREEDY CHUNK_TOKENS THREADS REPEATS
import {getLlama} from "node-llama-cpp";

const [modelPath, prompt, nGreedy, chunkTokens, threads, repeats] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});

// Greedy generation, as examples/generate does it.
const gctx = await model.createContext({contextSize: 512, threads: Number(threads)});
const greedy = [];
for await (const tok of gctx.getSequence().evaluate(model.tokenize(prompt), {temperature: 0})) {
    greedy.push(tok);
    if (greedy.length >= Number(nGreedy)) break;
}
await gctx.dispose();

// Prefill: the same English text as the Go benchmark, cut to chunkTokens.
let text = "";
for (let i = 0; text.length < 8 * Number(chunkTokens); i++) {
    text += `Roll ${i}: Travis rolls a d20 for perception and gets ${1 + i % 20}; Matt says the corridor is quiet. `;
}
const tokens = model.tokenize(text).slice(0, Number(chunkTokens));
const runs = [];
for (let r = 0; r < Number(repeats); r++) {
    const ctx = await model.createContext({contextSize: 4096, batchSize: 2048, threads: Number(threads)});
    const seq = ctx.getSequence();
    const start = process.hrtime.bigint();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    runs.push(tokens.length / seconds);
    await ctx.dispose();
}
runs.sort((a, b) => a - b);
console.log(JSON.stringify({
    greedy,
    prefill_tokens: tokens.length,
    threads: Number(threads),
    prefill_tokens_per_second: runs[Math.floor(runs.length / 2)],
}));
await model.dispose();
