package ort

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Report is what Doctor found out about the ONNX Runtime library.
type Report struct {
	Library    string   `json:"library"`               // absolute path of the shared library
	Source     string   `json:"source"`                // how it was found: --ort-lib, $PROMPTGAN_ORT_LIB or cache
	Version    string   `json:"version"`               // ONNX Runtime's version string
	Providers  []string `json:"providers"`             // execution providers compiled into the library
	CUDA       bool     `json:"cuda"`                  // a model really ran on the CUDA provider
	CUDAReason string   `json:"cuda_reason,omitempty"` // why CUDA does not work, when it does not
}

// Doctor loads the library (explicit = the --ort-lib value, "" to search as
// FindLibrary does) and reports its path, version and providers, and whether
// CUDA works: a one-node model is opened and run on the CUDA provider, since
// a listed provider can still fail for want of the CUDA runtime or a GPU.
func Doctor(explicit string) (Report, error) {
	rt, err := Load(explicit)
	if err != nil {
		return Report{}, err
	}
	r := Report{Library: rt.Path, Source: rt.Source, Version: rt.Version}
	if r.Providers, err = rt.Providers(); err != nil {
		return r, err
	}
	if err := rt.probeCUDA(); err != nil {
		r.CUDAReason = err.Error()
	} else {
		r.CUDA = true
	}
	return r, nil
}

// probeCUDA runs y = x + 1 on the CUDA provider and checks the answer.
func (rt *Runtime) probeCUDA() error {
	g := NewGraph("cuda_probe")
	g.Input("x", Float32, Dynamic("n"))
	g.Float32Initializer("one", []float32{1}, 1)
	g.Node("Add", []string{"x", "one"}, []string{"y"})
	g.Output("y", Float32, Dynamic("n"))
	model, err := g.Marshal()
	if err != nil {
		return err
	}
	s, err := rt.NewSessionFromBytes(model, Options{Device: CUDA})
	if err != nil {
		// Drop the "open (bytes):" prefix: the reason is what matters here.
		if errors.Is(err, errCUDA) {
			return errors.Unwrap(err)
		}
		return err
	}
	defer s.Close()
	out, err := s.Run(map[string]Tensor{"x": F32([]float32{1, 2}, 2)})
	if err != nil {
		return fmt.Errorf("a model opened on CUDA but did not run: %w", err)
	}
	if y := out["y"].Float32; len(y) != 2 || y[0] != 2 || y[1] != 3 {
		return fmt.Errorf("a model ran on CUDA but computed %v for 1+[1 2]", y)
	}
	return nil
}

// Write writes the report as text, one finding a line.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "library    %s (found by %s)\n", r.Library, r.Source)
	fmt.Fprintf(w, "version    %s\n", r.Version)
	fmt.Fprintf(w, "providers  %s (compiled in; a provider may still need its own libraries)\n", strings.Join(r.Providers, ", "))
	if r.CUDA {
		fmt.Fprintln(w, "cuda       yes (a test model ran on the CUDA execution provider)")
	} else {
		fmt.Fprintf(w, "cuda       no: %s\n", r.CUDAReason)
	}
}
