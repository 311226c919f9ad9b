package ort

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadOrSkip returns the process's ONNX Runtime, or skips the test when no
// library is installed (run scripts/setup-ort.sh to get one).
func loadOrSkip(t *testing.T) *Runtime {
	t.Helper()
	rt, err := Load("")
	if errors.Is(err, ErrNotFound) {
		t.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// hasCUDAFiles says whether the library has its CUDA provider beside it
// (the npm CPU build lists CUDAExecutionProvider but ships no provider).
func hasCUDAFiles(rt *Runtime) bool { return len(rt.missingCUDAFiles()) == 0 }

func TestFindLibraryOrder(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, []byte("not really a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(other, []byte("another"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvLibrary, dir) // a directory holding the library
	got, err := FindLibrary("")
	if err != nil || got.Path != lib || got.Source != "$"+EnvLibrary {
		t.Fatalf("env dir: got %+v, %v; want %s from $%s", got, err, lib, EnvLibrary)
	}
	got, err = FindLibrary(other) // the flag wins over the environment
	if err != nil || got.Path != other || got.Source != "--ort-lib" {
		t.Fatalf("flag: got %+v, %v; want %s from --ort-lib", got, err, other)
	}
	// A named library that is not there is an error, not a silent fallback.
	t.Setenv(EnvLibrary, filepath.Join(dir, "missing.so"))
	if _, err := FindLibrary(""); err == nil || !strings.Contains(err.Error(), EnvLibrary) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing env library: got %v", err)
	}
	if _, err := FindLibrary(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--ort-lib") {
		t.Fatalf("empty --ort-lib directory: got %v", err)
	}
	empty := filepath.Join(t.TempDir(), "libonnxruntime.so")
	os.WriteFile(empty, nil, 0o644)
	if _, err := FindLibrary(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty library file: got %v", err)
	}
}

func TestFindLibraryCache(t *testing.T) {
	t.Setenv(EnvLibrary, "")
	root := t.TempDir()
	libDir := filepath.Join(root, cacheRel)
	os.MkdirAll(libDir, 0o755)
	lib := filepath.Join(libDir, "libonnxruntime.so.1")
	os.WriteFile(lib, []byte("x"), 0o644)
	sub := filepath.Join(root, "a", "b")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub) // found from a subdirectory of the repository
	saved := cacheDir
	cacheDir = ""
	defer func() { cacheDir = saved }()
	got, err := FindLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(lib)
	if g, _ := filepath.EvalSymlinks(got.Path); g != want || got.Source != "cache" {
		t.Fatalf("got %+v, want %s from cache", got, want)
	}
}

func TestParseDevice(t *testing.T) {
	for _, s := range []string{"cpu", "CUDA", " auto "} {
		if _, err := ParseDevice(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseDevice("gpu"); err == nil || !strings.Contains(err.Error(), "cpu, cuda or auto") {
		t.Errorf("gpu: got %v", err)
	}
}

func TestDoctor(t *testing.T) {
	rt := loadOrSkip(t)
	r, err := Doctor("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Library != rt.Path || !strings.HasPrefix(r.Version, "1.") {
		t.Errorf("report %+v", r)
	}
	if !slices.Contains(r.Providers, "CPUExecutionProvider") {
		t.Errorf("providers %v lack CPUExecutionProvider", r.Providers)
	}
	if !hasCUDAFiles(rt) && (r.CUDA || !strings.Contains(r.CUDAReason, "has no CUDA provider")) {
		t.Errorf("CPU-only library: CUDA=%v reason %q", r.CUDA, r.CUDAReason)
	}
	t.Logf("%+v", r)
}

func TestLoadOtherLibraryFails(t *testing.T) {
	rt := loadOrSkip(t)
	if _, err := Load(rt.Path); err != nil {
		t.Fatalf("loading the same library again: %v", err)
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so")
	os.WriteFile(other, []byte("x"), 0o644)
	if _, err := Load(other); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Fatalf("second library: got %v", err)
	}
}

// mlp is a two-layer perceptron y = relu(x·W1ᵀ + b1)·W2 + b2 written as
// Gemm(transB=1) → Relu → Gemm.
type mlp struct {
	in, hid, out int
	w1, b1       []float32 // (hid, in), (hid)
	w2, b2       []float32 // (hid, out), (out)
}

func newMLP(seed uint64, in, hid, out int) *mlp {
	r := rand.New(rand.NewPCG(seed, 1))
	f := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64() * 0.5)
		}
		return s
	}
	return &mlp{in, hid, out, f(hid * in), f(hid), f(hid * out), f(out)}
}

func (m *mlp) graph() *Graph {
	g := NewGraph("mlp")
	g.Input("x", Float32, Dynamic("batch"), Fixed(int64(m.in)))
	g.Float32Initializer("w1", m.w1, int64(m.hid), int64(m.in))
	g.Float32Initializer("b1", m.b1, int64(m.hid))
	g.Float32Initializer("w2", m.w2, int64(m.hid), int64(m.out))
	g.Float32Initializer("b2", m.b2, int64(m.out))
	g.Node("Gemm", []string{"x", "w1", "b1"}, []string{"h"}, AttrInt("transB", 1))
	g.Node("Relu", []string{"h"}, []string{"a"})
	g.Node("Gemm", []string{"a", "w2", "b2"}, []string{"y"})
	g.Output("y", Float32, Dynamic("batch"), Fixed(int64(m.out)))
	return g
}

func (m *mlp) forward(x []float32, B int) []float32 {
	y := make([]float32, B*m.out)
	h := make([]float32, m.hid)
	for b := 0; b < B; b++ {
		for j := 0; j < m.hid; j++ {
			s := m.b1[j]
			for k := 0; k < m.in; k++ {
				s += x[b*m.in+k] * m.w1[j*m.in+k]
			}
			h[j] = max(s, 0)
		}
		for o := 0; o < m.out; o++ {
			s := m.b2[o]
			for j := 0; j < m.hid; j++ {
				s += h[j] * m.w2[j*m.out+o]
			}
			y[b*m.out+o] = s
		}
	}
	return y
}

func TestMLPMatchesGo(t *testing.T) {
	rt := loadOrSkip(t)
	m := newMLP(7, 12, 20, 5)
	path := filepath.Join(t.TempDir(), "mlp.onnx")
	if err := m.graph().WriteFile(path); err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(path, Options{Device: CPU, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := describe(s.Inputs()) + " → " + describe(s.Outputs()); got != "x float32[?,12] → y float32[?,5]" {
		t.Errorf("signature %s", got)
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, B := range []int{1, 4, 33} { // dynamic batch
		x := make([]float32, B*m.in)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out, err := s.Run(map[string]Tensor{"x": F32(x, int64(B), int64(m.in))})
		if err != nil {
			t.Fatal(err)
		}
		y := out["y"]
		if !slices.Equal(y.Shape, []int64{int64(B), int64(m.out)}) {
			t.Fatalf("B=%d: output shape %v", B, y.Shape)
		}
		want := m.forward(x, B)
		var worst float64
		for i := range want {
			worst = max(worst, math.Abs(float64(y.Float32[i]-want[i])))
		}
		if worst > 1e-5 {
			t.Errorf("B=%d: max |ONNX − Go| = %g > 1e-5", B, worst)
		}
		t.Logf("B=%d: max |ONNX − Go| = %.2g", B, worst)
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	rt := loadOrSkip(t)
	b, err := newMLP(1, 3, 4, 2).graph().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSessionFromBytes(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := []float32{1, 2, 3, 4, 5, 6}
	cases := []struct {
		in   map[string]Tensor
		want string
	}{
		{map[string]Tensor{"input": F32(x, 2, 3)}, "it expects x float32[?,3], got input (missing [x], unknown [input])"},
		{map[string]Tensor{"x": F32(x, 2, 3), "mask": I64([]int64{1}, 1)}, "unknown [mask]"},
		{map[string]Tensor{"x": I64([]int64{1, 2, 3}, 1, 3)}, "got int64 data"},
		{map[string]Tensor{"x": F32(x, 6)}, "rank 2"},
		{map[string]Tensor{"x": F32(x, 3, 2)}, "dimension 1 must be 3"},
		{map[string]Tensor{"x": F32(x, 1, 3)}, "holds 3 values, the data has 6"},
		{map[string]Tensor{"x": {Shape: []int64{2, 3}}}, "exactly one of Float32 and Int64"},
	}
	for _, c := range cases {
		_, err := s.Run(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("inputs %v: got %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

// RunInto writes an output into the caller's tensor: the same values as
// Run, in the slice given; bad output tensors are refused by name.
func TestRunInto(t *testing.T) {
	rt := loadOrSkip(t)
	b, err := newMLP(1, 3, 4, 2).graph().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSessionFromBytes(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]Tensor{"x": F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)}
	want, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 4)
	got, err := s.RunInto(in, map[string]Tensor{"y": F32(buf, 2, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(buf, want["y"].Float32) || &got["y"].Float32[0] != &buf[0] {
		t.Fatalf("RunInto wrote %v (returned %v), Run gave %v", buf, got["y"].Float32, want["y"].Float32)
	}
	for _, c := range []struct {
		out  map[string]Tensor
		want string
	}{
		{map[string]Tensor{"z": F32(buf, 2, 2)}, "no output z to write into"},
		{map[string]Tensor{"y": I64([]int64{1, 2, 3, 4}, 2, 2)}, "output y: got int64 data"},
		{map[string]Tensor{"y": F32(buf, 4)}, "output y: got shape [4]"},
		{map[string]Tensor{"y": F32(buf, 2, 1)}, "output y: got shape [2 1], the model declares y float32[?,2] (dimension 1 must be 2)"},
		{map[string]Tensor{"y": F32(buf, 1, 2)}, "output y: shape [1 2] holds 2 values, the data has 4"},
		{map[string]Tensor{"y": F32(make([]float32, 6), 3, 2)}, "run (bytes)"}, // the batch ONNX Runtime computes is 2
	} {
		if _, err := s.RunInto(in, c.out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("outputs %v: got %v, want an error containing %q", c.out, err, c.want)
		}
	}
}

func TestBadModels(t *testing.T) {
	rt := loadOrSkip(t)
	if _, err := rt.NewSession(filepath.Join(t.TempDir(), "nope.onnx"), Options{}); err == nil || !strings.Contains(err.Error(), "nope.onnx") {
		t.Errorf("missing file: got %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.onnx")
	os.WriteFile(junk, []byte("this is not protobuf"), 0o644)
	if _, err := rt.NewSession(junk, Options{}); err == nil || !strings.Contains(err.Error(), "junk.onnx") {
		t.Errorf("junk file: got %v", err)
	}
	if _, err := rt.NewSession(junk, Options{Device: "tpu"}); err == nil || !strings.Contains(err.Error(), "cpu, cuda or auto") {
		t.Errorf("bad device: got %v", err)
	}
}

func TestModelWithoutInputs(t *testing.T) {
	rt := loadOrSkip(t)
	g := NewGraph("const")
	g.Float32Initializer("w", []float32{1, 2}, 2)
	g.Node("Identity", []string{"w"}, []string{"y"})
	g.Output("y", Float32, Fixed(2))
	b, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSessionFromBytes(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(nil); err == nil || !strings.Contains(err.Error(), "declares no inputs") {
		t.Fatalf("got %v", err)
	}
	s.Close()
	if _, err := s.Run(nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("run after close: got %v", err)
	}
}

func TestCUDAOnCPULibraryFailsClearly(t *testing.T) {
	rt := loadOrSkip(t)
	if hasCUDAFiles(rt) {
		t.Skip("this ONNX Runtime build has a CUDA provider beside it")
	}
	b, _ := newMLP(1, 3, 4, 2).graph().Marshal()
	_, err := rt.NewSessionFromBytes(b, Options{Device: CUDA})
	if err == nil || !errors.Is(err, errCUDA) || !strings.Contains(err.Error(), "has no CUDA provider") || !strings.Contains(err.Error(), "--ort-lib") {
		t.Fatalf("cuda on a CPU build: got %v", err)
	}
	t.Log(err)
	s, err := rt.NewSessionFromBytes(b, Options{Device: Auto})
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	defer s.Close()
	if s.Device != CPU {
		t.Errorf("auto on a CPU build runs on %s", s.Device)
	}
	if _, err := s.Run(map[string]Tensor{"x": F32([]float32{1, 2, 3}, 1, 3)}); err != nil {
		t.Error(err)
	}
}

func TestGraphMistakes(t *testing.T) {
	cases := []struct {
		build func(g *Graph)
		want  string
	}{
		{func(g *Graph) {
			g.Input("x", Float32, Fixed(1))
			g.Float32Initializer("x", []float32{1}, 1)
		}, `value "x" is already defined by input x`},
		{func(g *Graph) {
			g.Input("x", Float32, Fixed(1))
			g.Node("Relu", []string{"y"}, []string{"z"})
		}, `reads "y", which no input`},
		{func(g *Graph) {
			g.Input("x", Float32, Fixed(1))
			g.Output("z", Float32, Fixed(1))
		}, `output "z" is produced by no node`},
		{func(g *Graph) { g.Float32Initializer("w", []float32{1, 2, 3}, 2, 2) }, "needs 4 values, got 3"},
		{func(g *Graph) { g.Input("x", "float16", Fixed(1)) }, `element type "float16"`},
	}
	for _, c := range cases {
		g := NewGraph("t")
		c.build(g)
		if _, err := g.Marshal(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}
