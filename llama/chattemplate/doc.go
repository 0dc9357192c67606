// Package chattemplate renders chat templates, the Jinja programs that GGUF
// files carry in tokenizer.chat_template and Hugging Face models in
// tokenizer_config.json, with a real Jinja engine, in pure Go: what Hugging
// Face's apply_chat_template and llama.cpp's --jinja do.
//
//	tmpl, err := chattemplate.Parse(source)
//	...
//	prompt, err := tmpl.Render([]chattemplate.Message{
//		{Role: "system", Content: "Answer in one word."},
//		{Role: "user", Content: "Who rolls the most natural 20s?"},
//	}, true, chattemplate.WithEOS("<|im_end|>"))
//
// # Variables
//
// A template sees the variables apply_chat_template gives it: messages (a
// list of objects with role and content), add_generation_prompt, tools and
// documents (None unless [WithVariable] sets them), and bos_token and
// eos_token ("" unless [WithBOS] and [WithEOS] set them). [WithVariable]
// adds any other (enable_thinking, date_string). Blocks are trimmed as
// Hugging Face trims them (trim_blocks and lstrip_blocks), and
// raise_exception fails the rendering with the template's message.
//
// The engine is github.com/ardanlabs/jinja, a Jinja implementation written
// for chat templates. The tests check that it renders Qwen2.5's and Qwen3's
// templates, and a ChatML one, exactly as Hugging Face's own JavaScript
// renderer (@huggingface/jinja) does: system, user and assistant turns, the
// generation prompt on and off, and content that contains template syntax
// or control tokens.
//
// # Content is data
//
// Message content is a value, never template source: "{{ x }}" in a message
// is rendered as those characters. Whether "<|im_end|>" in a message may
// become a control token is the tokenizer's business: [Template.Pieces]
// tells which bytes of a rendering came from message content, so that a
// caller can tokenize them as text while parsing control tokens in the
// template's own text.
//
// # Concurrency
//
// A [Template] is safe for concurrent use.
package chattemplate
