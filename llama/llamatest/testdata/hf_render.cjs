// Renders chat templates with Hugging Face's own JavaScript Jinja renderer:
// reads {"template": SOURCE, "cases": [{messages, add_generation_prompt,
// bos_token, eos_token}, ...]} on stdin and prints {"renders": [...]}. The
// variables are those transformers' apply_chat_template passes, tools and
// documents null.
const fs = require("fs");
const { Template } = require("@huggingface/jinja");

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const template = new Template(input.template);
const renders = input.cases.map((c) => template.render({ tools: null, documents: null, ...c }));
process.stdout.write(JSON.stringify({ renders }));
