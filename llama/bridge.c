#include "bridge.h"
#include "_cgo_export.h"

#include <string.h>

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
		return goHookWants(s->hooks_id, t);
	}
	return goHookRun(s->hooks_id, t);
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

// Log lines are attributed per thread: llama.cpp logs the cause of a failed
// call on the thread that made the call, and several threads may log at once.
static __thread uintptr_t rlm_log_call;

// llama.cpp may log one line in several pieces (GGML_LOG_LEVEL_CONT
// continues the previous one); each thread assembles its own.
#define RLM_LOG_LINE 4096
static __thread struct {
	char text[RLM_LOG_LINE];
	int len;
	int level;
} rlm_log_line;

uintptr_t rlm_log_swap(uintptr_t call) {
	uintptr_t prev = rlm_log_call;
	rlm_log_call = call;
	return prev;
}

static void rlm_log_flush(void) {
	if (rlm_log_line.len > 0) {
		goLogLine(rlm_log_line.level, rlm_log_line.text, rlm_log_line.len, rlm_log_call);
		rlm_log_line.len = 0;
	}
}

void rlm_log_callback(enum ggml_log_level level, const char * text, void * user_data) {
	(void) user_data;
	if (text == NULL) {
		return;
	}
	if (level != GGML_LOG_LEVEL_CONT) {
		rlm_log_flush(); // a new message ends an unterminated one
		rlm_log_line.level = (int) level;
	}
	size_t n = strlen(text);
	while (n > 0) {
		size_t room = RLM_LOG_LINE - (size_t) rlm_log_line.len;
		size_t take = n < room ? n : room;
		memcpy(rlm_log_line.text + rlm_log_line.len, text, take);
		rlm_log_line.len += (int) take;
		text += take;
		n -= take;
		if (rlm_log_line.len == RLM_LOG_LINE) {
			rlm_log_flush(); // an overlong line goes out in pieces
		}
	}
	if (rlm_log_line.len > 0 && rlm_log_line.text[rlm_log_line.len - 1] == '\n') {
		rlm_log_flush();
	}
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
