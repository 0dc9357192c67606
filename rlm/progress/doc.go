// Package progress reports the progress of long tasks: downloads, dataset
// passes, evaluation runs.
//
// # Bars
//
// A [Bar] counts units done towards a total and reports the percentage,
// the rate and the time left (ETA):
//
//	bar := progress.New(os.Stderr, "qwen2.5-7b-instruct-f16.gguf", size, progress.WithUnit(progress.Bytes))
//	io.Copy(io.MultiWriter(file, bar), body)
//	bar.Finish()
//
// On a terminal the report is one line redrawn in place at most every
// 200ms; on other writers (files, pipes, CI logs) it is a plain line every
// 10s and a last one at [Bar.Finish]. A nil *Bar does nothing, so code can
// keep one unconditionally and leave it nil when progress is not wanted.
//
// # Concurrency
//
// A Bar is safe for concurrent use: workers may call [Bar.Add] together.
package progress
