package ort

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Only the two calls promptgan needs that github.com/yalue/onnxruntime_go
// does not wrap: OrtApi::GetAvailableProviders and ReleaseAvailableProviders.
// OrtApi is a struct of function pointers that ONNX Runtime only ever
// appends to (its ABI promise), so their positions are fixed: 125 and 126,
// measured with offsetof(OrtApi, GetAvailableProviders)/sizeof(void*) on the
// onnxruntime_c_api.h that onnxruntime_go v1.27.0 carries (C API 24).
typedef void OrtStatus;
typedef struct { const void *(*GetApi)(uint32_t version); const char *(*GetVersionString)(void); } ApiBase;
typedef ApiBase *(*GetApiBaseFn)(void);
typedef OrtStatus *(*GetProvidersFn)(char ***out, int *n);
typedef OrtStatus *(*ReleaseProvidersFn)(char **ptr, int n);
typedef const char *(*GetErrorMessageFn)(const OrtStatus *);
typedef void (*ReleaseStatusFn)(OrtStatus *);

enum { apiVersion = 24, idxGetErrorMessage = 2, idxReleaseStatus = 93, idxGetProviders = 125, idxReleaseProviders = 126 };

// list_providers writes the provider names, joined by '\n', into a malloc'd
// string (*out) or an error message into *err; the caller frees both.
static void list_providers(const char *lib, char **out, char **err) {
	*out = NULL; *err = NULL;
	void *h = dlopen(lib, RTLD_LAZY); // already loaded by onnxruntime_go: same handle, no second copy
	if (!h) { const char *m = dlerror(); *err = strdup(m ? m : "dlopen failed"); return; }
	GetApiBaseFn base = (GetApiBaseFn)dlsym(h, "OrtGetApiBase");
	if (!base) { *err = strdup("no OrtGetApiBase symbol"); dlclose(h); return; }
	void *const *api = (void *const *)base()->GetApi(apiVersion);
	if (!api) { *err = strdup("the library does not offer C API version 24"); dlclose(h); return; }
	char **names = NULL; int n = 0;
	OrtStatus *st = ((GetProvidersFn)api[idxGetProviders])(&names, &n);
	if (st) {
		*err = strdup(((GetErrorMessageFn)api[idxGetErrorMessage])(st));
		((ReleaseStatusFn)api[idxReleaseStatus])(st);
		dlclose(h);
		return;
	}
	size_t len = 1;
	for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
	char *s = calloc(len, 1);
	for (int i = 0; i < n; i++) { if (i) strcat(s, "\n"); strcat(s, names[i]); }
	((ReleaseProvidersFn)api[idxReleaseProviders])(names, n);
	*out = s;
	dlclose(h);
}
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// Providers returns the execution providers the library was built with, as
// ONNX Runtime names them (e.g. "CUDAExecutionProvider",
// "CPUExecutionProvider"). Being listed does not mean a provider works here:
// CUDA also needs its provider library, the CUDA runtime and a GPU (see
// CUDAStatus).
func (rt *Runtime) Providers() ([]string, error) {
	cpath := C.CString(rt.Path)
	defer C.free(unsafe.Pointer(cpath))
	var out, msg *C.char
	C.list_providers(cpath, &out, &msg)
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return nil, errors.New("GetAvailableProviders on " + rt.Path + ": " + C.GoString(msg))
	}
	defer C.free(unsafe.Pointer(out))
	s := C.GoString(out)
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}
