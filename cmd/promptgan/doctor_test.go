package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"promptgan/internal/ort"
)

func TestDoctor(t *testing.T) {
	if _, err := ort.FindLibrary(""); errors.Is(err, ort.ErrNotFound) {
		t.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
	out, errOut, code := run(t, "doctor")
	if code != 0 || !strings.Contains(out, "version    1.") || !strings.Contains(out, "CPUExecutionProvider") || !strings.Contains(out, "cuda       ") {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, "doctor", "--json")
	var r ort.Report
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Library == "" || (!r.CUDA && r.CUDAReason == "") {
		t.Fatalf("doctor --json: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code = run(t, "doctor", "--ort-lib", t.TempDir()); code != 1 || !strings.Contains(errOut, "--ort-lib") {
		t.Fatalf("doctor --ort-lib EMPTY_DIR: exit %d, %s", code, errOut)
	}
	if _, _, code = run(t, "doctor", "extra"); code != 2 {
		t.Fatalf("doctor with an argument: exit %d, want 2", code)
	}
}
