#include "kernels.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "ggml-cpu.h"

int rlm_kernels_score(const char * path, char * err, size_t err_len) {
	// RTLD_LOCAL: nothing of the library becomes visible to other code.
	void * h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char * msg = dlerror();
		snprintf(err, err_len, "%s", msg ? msg : "dlopen failed");
		return -1;
	}
	int (*score)(void) = (int (*)(void)) dlsym(h, "ggml_backend_score");
	if (score == NULL || dlsym(h, "ggml_backend_init") == NULL) {
		snprintf(err, err_len, "%s: not a ggml CPU backend variant (no ggml_backend_score)", path);
		dlclose(h);
		return -1;
	}
	int s = score();
	dlclose(h);
	return s;
}

ggml_backend_reg_t rlm_kernels_use(const char * path, ggml_log_callback log_cb) {
	ggml_backend_reg_t reg = ggml_backend_load(path);
	if (reg == NULL) {
		return NULL;
	}
	// llama.cpp runs on the first CPU device in the registry: remove the
	// linked-in one so that only the library's remains.
	ggml_backend_unload(ggml_backend_cpu_reg());
	// The library brings its own copy of ggml-base (libggml-base.so), with
	// its own log sink: point it at ours too.
	void * base = dlopen("libggml-base.so.0", RTLD_NOW | RTLD_NOLOAD);
	if (base != NULL) {
		void (*log_set)(ggml_log_callback, void *) = (void (*)(ggml_log_callback, void *)) dlsym(base, "ggml_log_set");
		if (log_set != NULL) {
			log_set(log_cb, NULL);
		}
		dlclose(base);
	}
	return reg;
}

struct ggml_backend_feature * rlm_kernels_features(ggml_backend_reg_t reg) {
	ggml_backend_get_features_t fn = (ggml_backend_get_features_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features");
	return fn ? fn(reg) : NULL;
}

ggml_backend_reg_t rlm_kernels_cpu_reg(void) {
	ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	return dev ? ggml_backend_dev_backend_reg(dev) : NULL;
}
