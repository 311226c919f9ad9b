package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
)

// tinyGPT2 is the Optimum-layout fixture (vocabulary 512), relative to the
// repository root where run executes the CLI.
const tinyGPT2 = "internal/ort/export/testdata/tiny-gpt2"

// steerFixture writes references (gen-len 4), a prior (prompt-len 2) and a
// small steer config into a temporary directory.
func steerFixture(t *testing.T) (refs, prior, config string) {
	t.Helper()
	dir := t.TempDir()
	rng := nn.NewRNG(3, 1)
	rows := func(n, T int) string {
		var b strings.Builder
		for range n {
			for j := range T {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprint(&b, rng.IntN(500))
			}
			b.WriteByte('\n')
		}
		return b.String()
	}
	refs, prior, config = filepath.Join(dir, "refs.txt"), filepath.Join(dir, "prior.txt"), filepath.Join(dir, "steer.yaml")
	for path, text := range map[string]string{
		refs:  rows(40, 4),
		prior: rows(20, 2),
		config: `generator: {emb: 8, hidden: 8}
discriminator: {emb: 8, hidden: 8, members: 2}
batch_size: 4
replay_size: 16
steps: 8
mle_steps: 2
d_pretrain_steps: 2
eval_every: 4
eval_samples: 4
checkpoint_every: 2
keep_checkpoints: 0
log_every: 1
seed: 7
`,
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return refs, prior, config
}

func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.FindLibrary(""); errors.Is(err, ort.ErrNotFound) {
		t.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
}

// TestTrainSteerResumeBitExact trains a steer run against the tiny GPT-2
// fixture, loses its last checkpoint (as after a kill), resumes from the one
// before, and checks that the final weights equal an uninterrupted run's
// and that the replayed calls were answered from the ledger.
func TestTrainSteerResumeBitExact(t *testing.T) {
	needORT(t)
	refs, prior, config := steerFixture(t)
	args := func(out string) []string {
		return []string{"train", "--target", tinyGPT2, "--train", refs, "--prior", prior, "--config", config,
			"--prompt-len", "2", "--gen-len", "4", "--out", out, "--quiet"}
	}
	a := t.TempDir()
	out, errOut, code := run(t, args(a)...)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "finished at step 8") || !strings.Contains(out, "call ledger: 0 calls answered") {
		t.Fatalf("train output:\n%s", out)
	}
	b := t.TempDir()
	if out, errOut, code := run(t, args(b)...); code != 0 {
		t.Fatalf("second train: exit %d\n%s\n%s", code, out, errOut)
	}
	last := filepath.Join(b, "checkpoints", "step-0000008")
	if err := os.RemoveAll(last); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "resume", filepath.Join(b, "checkpoints", "step-0000006"), "--quiet")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`call ledger: (\d+) calls answered from it, (\d+) sent`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("resume output lacks the ledger line:\n%s", out)
	}
	if hits, _ := strconv.Atoi(m[1]); hits == 0 {
		t.Fatalf("the resumed run answered no calls from the ledger:\n%s", out)
	}
	if misses, _ := strconv.Atoi(m[2]); misses != 0 {
		t.Fatalf("the resumed run sent %d already-recorded calls to the target again:\n%s", misses, out)
	}
	for _, f := range []string{"generator.safetensors", "discriminator.safetensors", "optim_g_adv.safetensors"} {
		x, err := os.ReadFile(filepath.Join(a, "checkpoints", "step-0000008", f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(last, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("%s: the resumed run's differs from the uninterrupted run's", f)
		}
	}
	out, errOut, code = run(t, "inspect", a)
	if code != 0 || !strings.Contains(out, "target      ") || !strings.Contains(out, "tiny-gpt2 (") || !strings.Contains(out, "d_fake") {
		t.Fatalf("inspect: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "eval", a); code != 2 || !strings.Contains(errOut, "searched prompts for a model") {
		t.Fatalf("eval of a steer run: exit %d: %s", code, errOut)
	}
	// A finished steer run resumes to a larger budget.
	if out, errOut, code := run(t, "resume", a, "--steps", "9", "--quiet"); code != 0 || !strings.Contains(out, "finished at step 9") {
		t.Fatalf("resume --steps 9: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestTrainSteerBadInput(t *testing.T) {
	refs, prior, config := steerFixture(t)
	base := []string{"--prompt-len", "2", "--gen-len", "4", "--config", config, "--quiet"}
	empty := t.TempDir()
	_, errOut, code := run(t, append([]string{"train", "--target", empty, "--train", refs, "--prior", prior, "--out", t.TempDir()}, base...)...)
	if code != 1 || !strings.Contains(errOut, "model.onnx") {
		t.Fatalf("no model.onnx: exit %d: %s", code, errOut)
	}
	_, errOut, code = run(t, "train", "--target", tinyGPT2, "--oracle", "x", "--train", refs)
	if code != 2 || !strings.Contains(errOut, "oracle is set but the target is a model") {
		t.Fatalf("--oracle in a steer run: exit %d: %s", code, errOut)
	}
	// one set of keys: a prior is valid for the identity target too, and is read as prompt_len-token prompts
	_, errOut, code = run(t, "train", "--preset", "tiny", "--prior", prior, "--out", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "prior prompts (prompt_len 20") || !strings.Contains(errOut, prior) {
		t.Fatalf("a 2-token prior for 20-token prompts: exit %d: %s", code, errOut)
	}
	needORT(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, text, want string }{
		{"outside.txt", "1 2 3 600\n", "outside the vocabulary [0, 512)"},
		{"short.txt", "1 2 3\n", "want 4"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := run(t, append([]string{"train", "--target", tinyGPT2, "--train", path, "--prior", prior, "--out", t.TempDir()}, base...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, path) {
			t.Fatalf("%s: exit %d: %s", tc.name, code, errOut)
		}
	}
	_, errOut, code = run(t, append([]string{"train", "--target", tinyGPT2, "--train", refs, "--prior", prior, "--max-new-tokens", "2", "--out", t.TempDir()}, base...)...)
	if code != 2 || !strings.Contains(errOut, "max_new_tokens") {
		t.Fatalf("max-new-tokens below gen-len: exit %d: %s", code, errOut)
	}
}
