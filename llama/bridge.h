// C side of the binding: the callbacks llama.cpp calls, and a prefill loop
// used to measure what the Go path costs. Only this package includes it.
#ifndef RLM_BRIDGE_H
#define RLM_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>
#include "llama.h"

// Per-context state shared with llama.cpp's callbacks. It lives in C memory so
// that llama.cpp may hold a pointer to it; Go finds the context's hooks by the
// registry key in hooks_id, never through a pointer.
typedef struct rlm_context_state {
	uintptr_t hooks_id; // key of the context's hooks in the Go registry
	int32_t hooks_on;   // non-zero while any hook is registered
	int32_t abort_flag; // set from Go to stop the running decode
} rlm_context_state;

// rlm_set_progress installs the load progress callback with a cgo.Handle as
// its user data (a handle is an integer; Go may not turn it into a pointer).
void rlm_set_progress(struct llama_model_params * params, uintptr_t handle);

bool rlm_eval_callback(struct ggml_tensor * t, bool ask, void * user_data);
bool rlm_abort_callback(void * user_data);
bool rlm_progress_callback(float progress, void * user_data);
void rlm_log_callback(enum ggml_log_level level, const char * text, void * user_data);

// rlm_log_swap makes the calling thread's log lines belong to the Go call
// whose key is call (0: to no call) and returns the key it replaces. A log
// line belongs to the call that was running on the thread that logged it.
uintptr_t rlm_log_swap(uintptr_t call);

// rlm_prefill decodes tokens into sequence seq in chunks of n_batch, asking for
// logits at the last token only: the loop a C program would write.
int32_t rlm_prefill(struct llama_context * ctx, struct llama_batch * batch, const llama_token * tokens, int32_t n_tokens, int32_t n_batch, llama_seq_id seq);

// rlm_to_float calls a type's ggml to_float routine (a function pointer,
// which Go cannot call itself).
void rlm_to_float(const struct ggml_type_traits * traits, const void * src, float * dst, int64_t n);

// rlm_release_free_memory returns freed heap pages to the system, where the
// C library can (glibc's malloc_trim); elsewhere it does nothing.
void rlm_release_free_memory(void);

#endif
