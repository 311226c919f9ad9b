//go:build openblas

package nn

/*
#cgo LDFLAGS: -l:libopenblas.so.0
// Declared here rather than through cblas.h so that only the shared library is
// needed at build time (make setup extracts it into the cache). The CBLAS enums
// are C ints.
void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb,
	float beta, float *c, int ldc);
*/
import "C"

// BLAS names the matrix-multiply backend this binary was built with.
const BLAS = "OpenBLAS"

const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
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
	C.cblas_sgemm(cblasRowMajor, cblasTrans_(transA), cblasTrans_(transB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), (*C.float)(&a[0]), C.int(lda), (*C.float)(&b[0]), C.int(ldb),
		C.float(beta), (*C.float)(&c[0]), C.int(ldc))
}

func cblasTrans_(t bool) C.int {
	if t {
		return cblasTrans
	}
	return cblasNoTrans
}
