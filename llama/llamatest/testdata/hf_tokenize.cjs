// Tokenizes texts with Hugging Face's own JavaScript tokenizer: reads
// {"tokenizer": PATH, "config": PATH, "texts": [...]} on stdin and prints
// {"ids": [[...], ...]}, without adding special tokens (Qwen adds none).
const fs = require("fs");
const { Tokenizer } = require("@huggingface/tokenizers");

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const tokenizer = new Tokenizer(
    JSON.parse(fs.readFileSync(input.tokenizer, "utf8")),
    JSON.parse(fs.readFileSync(input.config, "utf8")));
const ids = input.texts.map((text) => tokenizer.encode(text, { add_special_tokens: false }).ids);
process.stdout.write(JSON.stringify({ ids }));
