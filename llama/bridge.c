#include "bridge.h"
#include "_cgo_export.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

void rlm_release_free_memory(void) {
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

bool rlm_eval_callback(struct ggml_tensor * t, bool ask, void * user_data) {
	rlm_context_state * s = (rlm_context_state *) user_data;
	// Without hooks, decline every node so that the scheduler computes the
	// graph in one piece, and do not cross into Go at all.
	if (__atomic_load_n(&s->hooks_on, __ATOMIC_ACQUIRE) == 0) {
		return ask ? false : true;
	}
	if (ask) {
		return goHookWants(s->handle, t);
	}
	return goHookRun(s->handle, t);
}

bool rlm_abort_callback(void * user_data) {
	rlm_context_state * s = (rlm_context_state *) user_data;
	return __atomic_load_n(&s->abort_flag, __ATOMIC_ACQUIRE) != 0;
}

void rlm_set_progress(struct llama_model_params * params, uintptr_t handle) {
	params->progress_callback = rlm_progress_callback;
	params->progress_callback_user_data = (void *) handle;
}

bool rlm_progress_callback(float progress, void * user_data) {
	return goLoadProgress((uintptr_t) user_data, progress);
}

void rlm_log_callback(enum ggml_log_level level, const char * text, void * user_data) {
	(void) user_data;
	goLog((int) level, (char *) text);
}

int32_t rlm_prefill(struct llama_context * ctx, struct llama_batch * batch, const llama_token * tokens, int32_t n_tokens, int32_t n_batch, llama_seq_id seq) {
	for (int32_t start = 0; start < n_tokens; start += n_batch) {
		int32_t n = n_tokens - start < n_batch ? n_tokens - start : n_batch;
		batch->n_tokens = n;
		for (int32_t i = 0; i < n; i++) {
			batch->token[i] = tokens[start + i];
			batch->pos[i] = start + i;
			batch->n_seq_id[i] = 1;
			batch->seq_id[i][0] = seq;
			batch->logits[i] = (start + i == n_tokens - 1);
		}
		int32_t rc = llama_decode(ctx, *batch);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

void rlm_to_float(const struct ggml_type_traits * traits, const void * src, float * dst, int64_t n) {
	traits->to_float(src, dst, n);
}
