//go:build openblas

package nn

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>

// OpenBLAS is opened at run time rather than linked, so that its CPU kernel
// can be chosen first: OpenBLAS 0.3.21 reads OPENBLAS_CORETYPE when it loads,
// and on virtual machines whose cpuid hides the model it falls back to its
// generic "Prescott" kernels, 4-5x slower than the AVX2/AVX-512 ones.
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
	const float *, int, float, float *, int);
typedef void (*threads_fn)(int);
typedef char *(*name_fn)(void);

static sgemm_fn p_sgemm;
static name_fn p_corename;

// open_openblas loads dir/libopenblas.so.0 (or the system's, if dir is
// empty). Its Fortran runtime is loaded first from the same directory, so
// that no rpath or LD_LIBRARY_PATH is needed.
static const char *open_openblas(const char *dir) {
	char path[4096];
	void *h;
	if (dir[0]) {
		snprintf(path, sizeof path, "%s/libquadmath.so.0", dir);
		dlopen(path, RTLD_NOW | RTLD_GLOBAL); // optional: the system may have it
		snprintf(path, sizeof path, "%s/libgfortran.so.5", dir);
		dlopen(path, RTLD_NOW | RTLD_GLOBAL);
		snprintf(path, sizeof path, "%s/libopenblas.so.0", dir);
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	} else {
		h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	}
	if (!h) return dlerror();
	p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	threads_fn set_threads = (threads_fn)dlsym(h, "openblas_set_num_threads");
	p_corename = (name_fn)dlsym(h, "openblas_get_corename");
	if (!p_sgemm || !set_threads) return "cblas_sgemm or openblas_set_num_threads not found";
	// OpenBLAS's own threads spin while idle and would compete with the Go
	// goroutines that run the softmax kernels; gemm splits work itself instead.
	set_threads(1);
	return 0;
}

static void sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
	const float *b, int ldb, float beta, float *c, int ldc) {
	p_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static const char *corename(void) { return p_corename ? p_corename() : "unknown"; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// BLAS names the matrix-multiply backend this binary was built with.
var BLAS = "OpenBLAS"

// openblasDir is where make setup put OpenBLAS; make build sets it with
// -ldflags "-X promptgan/internal/nn.openblasDir=…".
var openblasDir string

const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

func init() {
	if os.Getenv("OPENBLAS_CORETYPE") == "" {
		switch {
		case cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ:
			os.Setenv("OPENBLAS_CORETYPE", "SkylakeX")
		case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
			os.Setenv("OPENBLAS_CORETYPE", "Haswell")
		}
	}
	// Candidates: $PROMPTGAN_OPENBLAS (a directory holding libopenblas.so.0),
	// the directory make setup filled (compiled in by make build), the system's.
	var tried []string
	for i, dir := range []string{os.Getenv("PROMPTGAN_OPENBLAS"), openblasDir, ""} {
		if dir == "" && i < 2 {
			continue // unset: the last candidate is the system's library
		}
		cdir := C.CString(dir)
		msg := C.open_openblas(cdir)
		C.free(unsafePointer(cdir))
		if msg == nil {
			tried = nil
			break
		}
		tried = append(tried, C.GoString(msg))
	}
	if tried != nil {
		fmt.Fprintf(os.Stderr, "promptgan: this build needs OpenBLAS and could not load it:\n  %s\n(run `make setup`, set PROMPTGAN_OPENBLAS to the directory holding libopenblas.so.0, or build without -tags openblas)\n", strings.Join(tried, "\n  "))
		os.Exit(1)
	}
	BLAS = "OpenBLAS (" + C.GoString(C.corename()) + " kernels)"
}

// splitFlops is the size above which gemm splits a product in two.
const splitFlops = 1 << 22

// gemmParts is how many pieces gemm cuts a large product into. OpenBLAS's
// result for an element depends on the shape of the call that computes it
// (its kernels sum in an order that varies with the tile an element falls
// in: TestGemmSplitChangesBits), so the cut is a constant, not the number
// of cores, or a run's bits would depend on the machine's core count. Two
// parts is what earlier versions used on 2 cores, so 2-core results stay as
// they were.
const gemmParts = 2

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if 2*m*n*k < splitFlops || (m < 2*gemmParts && n < 2*gemmParts) {
		gemm1(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Each part computes its rows (or columns) of C over the whole of k.
	part := func(i int) {
		if m >= n {
			chunk := (m + gemmParts - 1) / gemmParts
			i0 := i * chunk
			i1 := min(i0+chunk, m)
			aOff := i0 * lda
			if transA {
				aOff = i0
			}
			gemm1(transA, transB, i1-i0, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[i0*ldc:], ldc)
			return
		}
		chunk := (n + gemmParts - 1) / gemmParts
		j0 := i * chunk
		j1 := min(j0+chunk, n)
		bOff := j0
		if transB {
			bOff = j0 * ldb
		}
		gemm1(transA, transB, m, j1-j0, k, alpha, a, lda, b[bOff:], ldb, beta, c[j0:], ldc)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		for i := range gemmParts {
			part(i)
		}
		return
	}
	// The caller computes the last part itself rather than wait idle.
	var wg sync.WaitGroup
	for i := range gemmParts - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part(i)
		}()
	}
	part(gemmParts - 1)
	wg.Wait()
}

func gemm1(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// Bounds are checked here because OpenBLAS would read or write out of range silently.
	need := func(rows, cols, ld int) int { return (rows-1)*ld + cols }
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if len(a) < need(ar, ac, lda) || len(b) < need(br, bc, ldb) || len(c) < need(m, n, ldc) {
		panic("nn: Gemm: slice too short for the given shape")
	}
	C.sgemm(cblasRowMajor, cblasFlag(transA), cblasFlag(transB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), (*C.float)(&a[0]), C.int(lda), (*C.float)(&b[0]), C.int(ldb),
		C.float(beta), (*C.float)(&c[0]), C.int(ldc))
}

func cblasFlag(t bool) C.int {
	if t {
		return cblasTrans
	}
	return cblasNoTrans
}

func unsafePointer(p *C.char) unsafe.Pointer { return unsafe.Pointer(p) }
