// Package rlmtest provides scripted language models for testing code that
// uses the rlm engine, without a real model.
//
// # Scripted replies
//
// [Replies] answers calls from a fixed list, in order; [Func] answers with
// a function, which can read the conversation or the sub-call the engine is
// making ([rlm.SubCallFromContext]). Both record every conversation they
// are sent ([LM.Calls]) and count tokens as whitespace-separated words
// ([CountTokens]), so tests can assert on budgets exactly. [Code] writes a
// reply that holds one ```repl block. [WithLimits] and [WithFingerprint]
// make an LM report what [rlm.LimitedLM] and [rlm.Fingerprinter] ask.
//
// # Batches
//
// [Batch] wraps an [LM] as an [rlm.BatchLM], for testing the batched
// sub-call path; [BatchLM.Batches] tells what each batch held.
package rlmtest
