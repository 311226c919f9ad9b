//go:build openblas

package nn

/*
#cgo CFLAGS: -O3 -ffast-math
#cgo LDFLAGS: -lmvec -lm
#include <math.h>

// With -O3 -ffast-math gcc vectorises the expf loops through glibc's libmvec;
// target_clones builds AVX-512, AVX2 and baseline versions and picks one at
// load time (measured ~4x faster than the baseline on an AVX-512 machine).
#define KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
// EXACT kernels compute what a Go loop (or a plain C loop) computes, bit for
// bit, with IEEE arithmetic as for adam_step below: no reassociation, no
// fused multiply-add.
#define EXACT __attribute__((optimize("no-fast-math", "fp-contract=off"))) KERNEL

// add_bias adds bias to the row in place (the logits come from a gemm
// without it, which saves a pass over the whole matrix).
static void add_bias(float *row, const float *bias, int V) {
	for (int j = 0; j < V; j++) row[j] += bias[j];
}

static float row_max(const float *z, int V) {
	float mx = z[0];
	for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
	return mx;
}

KERNEL static void softmax_xent(float *z, const float *bias, int rows, int V, const int *y, const float *w, const float *e, double *nll, double *ent) {
	for (int r = 0; r < rows; r++) {
		float *row = z + (long)r * V;
		add_bias(row, bias, V);
		float mx = row_max(row, V);
		float s = 0, sz = 0;
		for (int j = 0; j < V; j++) {
			float ex = expf(row[j] - mx);
			s += ex;
			sz += ex * row[j];
		}
		float logZ = mx + logf(s);
		float h = logZ - sz / s;
		nll[r] = (double)logZ - (double)row[y[r]];
		ent[r] = h;
		float wr = w[r], er = e[r];
		for (int j = 0; j < V; j++) {
			float lp = row[j] - logZ;
			float p = expf(lp);
			row[j] = wr * p + er * p * (lp + h);
		}
		row[y[r]] -= wr;
	}
}

KERNEL static void log_softmax_pick(float *z, const float *bias, int rows, int V, const int *y, float inv, double *out) {
	for (int r = 0; r < rows; r++) {
		float *row = z + (long)r * V;
		add_bias(row, bias, V);
		float mx = row_max(row, V) * inv;
		double s = 0; // double: evaluation NLLs are reported to 4 decimals
		for (int j = 0; j < V; j++) s += expf(row[j] * inv - mx);
		out[r] = (double)(row[y[r]] * inv - mx) - log(s);
	}
}

// cdf_walk inverts the CDFs of n <= WALK rows of p (row stride V) at
// target[k]: for each row the first index where the running double sum of
// p exceeds target, or the last index with mass if rounding left target at
// the end. Each row's sum is the same sequence of additions as a walk of
// that row alone (so the same pick; IEEE arithmetic, no reassociation), but
// the rows' additions are interleaved, so that their latencies overlap
// instead of one long dependency chain per row.
#define WALK 8
EXACT static void cdf_walk(const float *p, long V, int n, const double *target, int *out) {
	double acc[WALK] = {0};
	int pick[WALK];
	for (int k = 0; k < WALK; k++) pick[k] = k < n ? -1 : 0;
	for (long j0 = 0; j0 < V; j0 += 16) {
		long j1 = j0 + 16 < V ? j0 + 16 : V;
		for (long j = j0; j < j1; j++) {
			for (int k = 0; k < n; k++) {
				acc[k] += p[k * V + j];
				if (pick[k] < 0 && acc[k] > target[k]) pick[k] = (int)j;
			}
		}
		int left = 0;
		for (int k = 0; k < n; k++) left |= pick[k] < 0;
		if (!left) break;
	}
	for (int k = 0; k < n; k++) {
		if (pick[k] < 0) {
			const float *row = p + k * V;
			int j = (int)V - 1;
			while (j > 0 && row[j] == 0) j--;
			pick[k] = j;
		}
		out[k] = pick[k];
	}
}

KERNEL static void sample_rows(float *z, const float *bias, int rows, int V, float inv, const double *u, int *out) {
	for (int r0 = 0; r0 < rows; r0 += WALK) {
		int n = rows - r0 < WALK ? rows - r0 : WALK;
		double target[WALK];
		for (int k = 0; k < n; k++) {
			float *row = z + (long)(r0 + k) * V;
			add_bias(row, bias, V);
			float mx = row_max(row, V);
			float s = 0;
			for (int j = 0; j < V; j++) {
				row[j] = expf((row[j] - mx) * inv);
				s += row[j];
			}
			target[k] = u[r0 + k] * (double)s;
		}
		cdf_walk(z + (long)r0 * V, V, n, target, out + r0);
	}
}

KERNEL static void cell_step(float *gates, const float *c_prev, float *c_next, float *tanh_c, float *h_next, int B, int H) {
	int G = 4 * H;
	for (int b = 0; b < B; b++) {
		float *g = gates + (long)b * G;
		for (int j = 0; j < 3 * H; j++) g[j] = 1.0f / (1.0f + expf(-g[j]));
		for (int j = 3 * H; j < G; j++) g[j] = tanhf(g[j]);
		const float *cp = c_prev + (long)b * H;
		float *cn = c_next + (long)b * H, *tc = tanh_c + (long)b * H, *hn = h_next + (long)b * H;
		for (int j = 0; j < H; j++) cn[j] = g[H + j] * cp[j] + g[j] * g[3 * H + j];
		for (int j = 0; j < H; j++) tc[j] = tanhf(cn[j]);
		for (int j = 0; j < H; j++) hn[j] = g[2 * H + j] * tc[j];
	}
}

// adam_step is nn.adamStepGo in C, vectorised: the same float32 operations
// in the same order, so the same bits. That needs IEEE arithmetic here, not
// the package's -ffast-math: no reassociation, no reciprocal approximations,
// no fused multiply-add (Go on amd64 emits none); sqrtf is correctly rounded
// like Go's float64 sqrt rounded to float32. -fno-math-errno lets sqrtf
// vectorise.
__attribute__((optimize("no-fast-math", "fp-contract=off", "no-math-errno")))
KERNEL static void adam_step(float *w, const float *g, float *m, float *v, long n, float scale, float b1, float b2,
                             float step_size, float sqrt_c2, float eps, float decay, int use_decay) {
	for (long i = 0; i < n; i++) {
		float gi = g[i] * scale;
		m[i] = b1 * m[i] + (1 - b1) * gi;
		v[i] = b2 * v[i] + (1 - b2) * gi * gi;
		float wi = w[i];
		if (use_decay) wi *= decay;
		w[i] = wi - step_size * m[i] / (sqrtf(v[i]) / sqrt_c2 + eps);
	}
}


// The kernels below are the Go loops of lstmGatesGo, AddBias, SumRows and
// ScatterAdd, vectorised across the columns: every value sees the same
// float32 operations in the same order as in Go, so the same bits
// (TestKernelsBitExact checks).
EXACT static void lstm_gates(const float *act, const float *c_prev, const float *tanh_c, const float *dht,
                             const float *dh_next, float *dc_next, float *dgt, int B, int H) {
	int G = 4 * H;
	for (int b = 0; b < B; b++) {
		const float *a = act + (long)b * G;
		float *d = dgt + (long)b * G;
		const float *cp = c_prev + (long)b * H, *tc = tanh_c + (long)b * H, *dh = dht + (long)b * H, *dn = dh_next + (long)b * H;
		float *dcn = dc_next + (long)b * H;
		for (int j = 0; j < H; j++) {
			float i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
			float t = tc[j];
			float dhv = dh[j] + dn[j];
			float dc = dcn[j] + dhv * o * (1 - t * t);
			d[j] = dc * g * i * (1 - i);
			d[H + j] = dc * cp[j] * f * (1 - f);
			d[2 * H + j] = dhv * t * o * (1 - o);
			d[3 * H + j] = dc * i * (1 - g * g);
			dcn[j] = dc * f;
		}
	}
}

EXACT static void add_bias_rows(float *x, int m, int n, const float *bias) {
	for (int i = 0; i < m; i++) {
		float *row = x + (long)i * n;
		for (int j = 0; j < n; j++) row[j] += bias[j];
	}
}

EXACT static void sum_rows(float *dst, const float *x, int m, int n) {
	for (int i = 0; i < m; i++) {
		const float *row = x + (long)i * n;
		for (int j = 0; j < n; j++) dst[j] += row[j];
	}
}

EXACT static void scatter_add(float *grad, int dim, const int *ids, int n, const float *d) {
	for (int i = 0; i < n; i++) {
		float *g = grad + (long)ids[i] * dim;
		const float *r = d + (long)i * dim;
		for (int j = 0; j < dim; j++) g[j] += r[j];
	}
}
*/
import "C"

import "unsafe"

func softmaxXent(z, bias []float32, rows, V int, y []int32, w, e []float32, nll, ent []float64) {
	if rows == 0 {
		return
	}
	C.softmax_xent((*C.float)(&z[0]), (*C.float)(&bias[0]), C.int(rows), C.int(V), (*C.int)(unsafe.Pointer(&y[0])),
		(*C.float)(&w[0]), (*C.float)(&e[0]), (*C.double)(&nll[0]), (*C.double)(&ent[0]))
}

func logSoftmaxPick(z, bias []float32, rows, V int, y []int32, inv float32, out []float64) {
	if rows == 0 {
		return
	}
	C.log_softmax_pick((*C.float)(&z[0]), (*C.float)(&bias[0]), C.int(rows), C.int(V), (*C.int)(unsafe.Pointer(&y[0])), C.float(inv), (*C.double)(&out[0]))
}

func sampleRows(z, bias []float32, rows, V int, inv float32, u []float64, out []int32) {
	if rows == 0 {
		return
	}
	C.sample_rows((*C.float)(&z[0]), (*C.float)(&bias[0]), C.int(rows), C.int(V), C.float(inv), (*C.double)(&u[0]), (*C.int)(unsafe.Pointer(&out[0])))
}

// cellStep activates the LSTM pre-activations in gates (B, 4H) in place and
// computes the new cell state, tanh of it, and the new hidden state.
func cellStep(gates, cPrev, cNext, tanhC, hNext []float32, B, H int) {
	C.cell_step((*C.float)(&gates[0]), (*C.float)(&cPrev[0]), (*C.float)(&cNext[0]), (*C.float)(&tanhC[0]), (*C.float)(&hNext[0]), C.int(B), C.int(H))
}

func adamStep(w, g, m, v []float32, k adamConsts) {
	if len(g) == 0 {
		return
	}
	decay := C.int(0)
	if k.useDecay {
		decay = 1
	}
	C.adam_step((*C.float)(&w[0]), (*C.float)(&g[0]), (*C.float)(&m[0]), (*C.float)(&v[0]), C.long(len(g)), C.float(k.scale),
		C.float(k.b1), C.float(k.b2), C.float(k.stepSize), C.float(k.sqrtC2), C.float(k.eps), C.float(k.decay), decay)
}

func lstmGates(act, cPrev, tanhC, dht, dhNext, dcNext, dgt []float32, B, H int) {
	if B == 0 || H == 0 {
		return
	}
	C.lstm_gates((*C.float)(&act[0]), (*C.float)(&cPrev[0]), (*C.float)(&tanhC[0]), (*C.float)(&dht[0]),
		(*C.float)(&dhNext[0]), (*C.float)(&dcNext[0]), (*C.float)(&dgt[0]), C.int(B), C.int(H))
}

func addBiasRows(x []float32, m, n int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	_ = x[m*n-1] // C reads and writes m·n values; check here
	C.add_bias_rows((*C.float)(&x[0]), C.int(m), C.int(n), (*C.float)(&bias[:n][0]))
}

func sumRows(dst, x []float32, m, n int) {
	if m == 0 || n == 0 {
		return
	}
	_ = x[m*n-1]
	C.sum_rows((*C.float)(&dst[:n][0]), (*C.float)(&x[0]), C.int(m), C.int(n))
}

func scatterAdd(grad []float32, dim int, ids []int32, d []float32) {
	if len(ids) == 0 || dim == 0 {
		return
	}
	_ = d[len(ids)*dim-1]
	rows := len(grad) / dim
	for _, id := range ids { // C would write out of range silently
		if id < 0 || int(id) >= rows {
			panic("nn: ScatterAdd: id out of range")
		}
	}
	C.scatter_add((*C.float)(&grad[0]), C.int(dim), (*C.int)(unsafe.Pointer(&ids[0])), C.int(len(ids)), (*C.float)(&d[0]))
}

// cdfWalk inverts the CDFs of the rows of p (rows × V) at target, as
// sample_rows does; for tests.
func cdfWalk(p []float32, rows, V int, target []float64, out []int32) {
	for r0 := 0; r0 < rows; r0 += 8 {
		n := min(rows-r0, 8)
		C.cdf_walk((*C.float)(&p[r0*V]), C.long(V), C.int(n), (*C.double)(&target[r0]), (*C.int)(unsafe.Pointer(&out[r0])))
	}
}
