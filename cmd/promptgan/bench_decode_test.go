package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/benchmarks/decode"
	"promptgan/internal/ort"
)

func TestBenchDecodeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "decode"}, "--model"},
		{[]string{"bench", "decode", "--model", "x", "--batch", "1,x"}, `--batch "1,x"`},
		{[]string{"bench", "decode", "--model", "x", "--batch", "0"}, `--batch "0"`},
		{[]string{"bench", "decode", "--model", "x", "--batch", "2,2"}, "appears twice"},
		{[]string{"bench", "decode", "--model", "x", "--batch", ""}, "--batch"},
		{[]string{"bench", "decode", "--model", "x", "--new-tokens", "0"}, "--new-tokens 0"},
		{[]string{"bench", "decode", "--model", "x", "--repeats", "0"}, "--repeats 0"},
		{[]string{"bench", "decode", "--model", "x", "--threads", "0"}, "--threads 0"},
		{[]string{"bench", "decode", "--model", "x", "--device", "tpu"}, "--device"},
		{[]string{"bench", "decode", "--model", "x", "extra"}, "no arguments"},
	} {
		if _, errOut, code := run(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, want 2 with %q in\n%s", tc.args, code, tc.want, errOut)
		}
	}
	// A missing model is not a usage error: exit 1, naming the path.
	missing := filepath.Join(t.TempDir(), "no-such-model")
	if _, errOut, code := run(t, "bench", "decode", "--model", missing); code != 1 || !strings.Contains(errOut, missing) {
		t.Errorf("missing directory: exit %d, want 1 naming %s:\n%s", code, missing, errOut)
	}
	empty := t.TempDir()
	if _, errOut, code := run(t, "bench", "decode", "--model", empty); code != 1 || !strings.Contains(errOut, filepath.Join(empty, "model.onnx")) {
		t.Errorf("directory without model.onnx: exit %d, want 1 naming model.onnx:\n%s", code, errOut)
	}
}

func TestBenchDecode(t *testing.T) {
	if _, err := ort.FindLibrary(""); errors.Is(err, ort.ErrNotFound) {
		t.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
	const kv, plain = "internal/ort/export/testdata/tiny-gpt2", "internal/ort/export/testdata/tiny-gpt2-no-past"
	small := []string{"--batch", "1,2", "--new-tokens", "4", "--repeats", "1", "--threads", "1"}

	out, errOut, code := run(t, append([]string{"bench", "decode", "--model", kv}, small...)...)
	if code != 0 {
		t.Fatalf("bench decode: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"kind     KV cache (past_key_values → present for 2 layers)", "vocab    512, tokenizer tokenizer.json loaded",
		"device   cpu, 1 intra-op threads, ONNX Runtime 1.", "tokens/s", "first prompt + generation as text:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	dir := t.TempDir()
	tokens := map[string]string{}
	for name, model := range map[string]string{"kv": kv, "plain": plain} {
		task, toks := filepath.Join(dir, name+".json"), filepath.Join(dir, name+".tokens")
		out, errOut, code := run(t, append([]string{"bench", "decode", "--model", model, "--json", "--prompts-out", task, "--tokens-out", toks}, small...)...)
		if code != 0 {
			t.Fatalf("bench decode --model %s --json: exit %d\n%s\n%s", model, code, out, errOut)
		}
		var res decode.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, out)
		}
		wantKind := map[string]string{"kv": "kv-cache", "plain": "plain"}[name]
		if string(res.Kind) != wantKind || res.Vocab != 512 || res.Threads != 1 || len(res.Rows) != 2 || res.Rows[0].Batch != 1 || res.Rows[1].Batch != 2 {
			t.Fatalf("--json: %+v", res)
		}
		for _, r := range res.Rows {
			if r.NewTokens < 1 || r.NewTokens > 4*r.Batch || r.Steps < 1 || r.Steps > 4 || !(r.TokensPerS > 0) || !(r.MsPerStep > 0) {
				t.Errorf("row %+v", r)
			}
		}

		var dt decode.Task
		raw, err := os.ReadFile(task)
		if err != nil || json.Unmarshal(raw, &dt) != nil {
			t.Fatalf("--prompts-out %s: %v\n%s", task, err, raw)
		}
		if dt.Kind != res.Kind || dt.NewTokens != 4 || dt.Threads != 1 || len(dt.Batches) != 2 || len(dt.Batches[1].Contexts) != 2 ||
			len(dt.Batches[1].Contexts[0]) != 4 || !filepath.IsAbs(dt.Model) || len(dt.StopTokens) != 1 || dt.StopTokens[0] != 511 {
			t.Fatalf("--prompts-out: %+v", dt)
		}
		raw, err = os.ReadFile(toks)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "batch 1 row 0:") || !strings.HasPrefix(lines[2], "batch 2 row 1:") {
			t.Fatalf("--tokens-out:\n%s", raw)
		}
		// Batch 1 decodes batch 2's first prompt: the same greedy tokens.
		if a, b := strings.TrimPrefix(lines[0], "batch 1 row 0:"), strings.TrimPrefix(lines[1], "batch 2 row 0:"); a != b {
			t.Errorf("%s: the first prompt decodes to%s alone and to%s in batch 2", name, a, b)
		}
		tokens[name] = string(raw)
	}
	// The two fixtures share their weights: full recompute and the KV cache
	// give the same greedy tokens.
	if tokens["kv"] != tokens["plain"] {
		t.Errorf("KV cache tokens\n%s\ndiffer from the plain model's\n%s", tokens["kv"], tokens["plain"])
	}
}
