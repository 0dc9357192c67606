// C side of CPU kernel selection: scoring and loading ggml's CPU backend
// libraries (kernels.go).
#ifndef RLM_KERNELS_H
#define RLM_KERNELS_H

#include <stddef.h>
#include "ggml-backend.h"

// rlm_kernels_score opens the CPU backend library at path and returns its
// ggml_backend_score(): 0 when this CPU cannot run it, higher for a better
// match. It returns -1 with a message in err when the file cannot be opened
// or is not a ggml CPU backend. The library is closed again.
int rlm_kernels_score(const char * path, char * err, size_t err_len);

// rlm_kernels_use loads the CPU backend library at path in place of the CPU
// backend linked into the binary, which it unregisters, and routes the
// library's logging through log_cb. It returns the library's backend, or NULL
// (nothing changed) when loading failed.
ggml_backend_reg_t rlm_kernels_use(const char * path, ggml_log_callback log_cb);

// rlm_kernels_features returns the features the CPU backend reg reports
// (ggml_backend_get_features), NULL-name terminated, or NULL.
struct ggml_backend_feature * rlm_kernels_features(ggml_backend_reg_t reg);

// rlm_kernels_cpu_reg returns the registered CPU backend llama.cpp uses: the
// first CPU device's backend.
ggml_backend_reg_t rlm_kernels_cpu_reg(void);

#endif
