package main

// The openai target against promptgan serve, over real loopback HTTP: the
// serve package's server (in this process, on 127.0.0.1:0) over the tiny
// GPT-2 fixture, and the openai target (the official SDK) calling it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"promptgan/internal/ort/orttest"
	"promptgan/serve"
	"promptgan/targets"
	"promptgan/targets/ledger"
	"promptgan/targets/onnx"
	"promptgan/targets/openai"
)

const serveToken = "serve-token-SECRET-7"

// served is a promptgan serve of the tiny GPT-2 fixture as model "tiny".
type served struct {
	base string // API root, http://127.0.0.1:PORT/v1
	root string // http://127.0.0.1:PORT
}

// startServe serves the fixture on a loopback port until the test ends;
// token "" serves without auth.
func startServe(t *testing.T, token string) served {
	t.Helper()
	orttest.LoadOrSkip(t)
	// absolute: run() changes the working directory, and decoders for new
	// settings are opened from the path later
	dir, err := filepath.Abs(filepath.Join("..", "..", tinyGPT2))
	if err != nil {
		t.Fatal(err)
	}
	s, err := serve.New(serve.Config{ModelDir: dir, ModelName: "tiny", Token: token, Model: onnx.Options{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen("127.0.0.1:0")
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.Close()
	})
	root := "http://" + ln.Addr().String()
	return served{base: root + "/v1", root: root}
}

// requests returns how many requests of route /metrics counts as answered 200.
func (s served) requests(t *testing.T, token, route string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.root+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`promptgan_http_requests_total\{code="200",route="` + regexp.QuoteMeta(route) + `"\} (\d+)`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// runes is s as JSON carries it: each byte of invalid UTF-8 becomes U+FFFD
// (a byte-level tokenizer can end a generation inside a character).
func runes(s string) string { return string([]rune(s)) }

// TestOpenAIThroughServe: the openai target's generations through promptgan
// serve are the in-process model's for the same seeds (completions, with
// seed_bits 64), the chat endpoint's are the in-process continuation of the
// chat template, and the call ledger records each call once and answers
// repeats without a request.
func TestOpenAIThroughServe(t *testing.T) {
	srv := startServe(t, serveToken)
	t.Setenv("PROMPTGAN_SERVE_KEY", serveToken)
	const maxNew = 12
	inproc, err := targets.Open(targets.Config{Name: filepath.Join("..", "..", tinyGPT2), MaxNewTokens: maxNew})
	if err != nil {
		t.Fatal(err)
	}
	defer inproc.Close()
	contexts := []string{"the food was", "A wonderful film.", "battery life is", "é and ü", "x", "I would not"}
	seeds := []uint64{1, 2, 1 << 40, 1<<63 + 9, 77, 5}
	want, err := targets.ContinueText(context.Background(), *inproc.Text, contexts, seeds)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		endpoint string
		seedBits int
		same     bool // the in-process generations expected
	}{
		{openai.EndpointCompletions, 64, true},
		{openai.EndpointCompletions, 31, false}, // seeds above 2^31 arrive cut
		{openai.EndpointChat, 64, false},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.endpoint, tc.seedBits), func(t *testing.T) {
			route := "POST /v1/completions"
			if tc.endpoint == openai.EndpointChat {
				route = "POST /v1/chat/completions"
			}
			before := srv.requests(t, serveToken, route)
			o, err := targets.OpenContext(context.Background(), targets.Config{Name: "openai:tiny", MaxNewTokens: maxNew,
				OpenAI: openai.Options{BaseURL: srv.base, APIKeyEnv: "PROMPTGAN_SERVE_KEY", Endpoint: tc.endpoint, SeedBits: tc.seedBits}})
			if err != nil {
				t.Fatal(err)
			}
			l, err := ledger.Open(filepath.Join(t.TempDir(), "ledger"), ledger.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			tt := *o.Text
			tt.Model = ledger.Wrap(o.Model, l, ledger.WrapOptions{})
			got, err := targets.ContinueText(context.Background(), tt, contexts, seeds)
			if err != nil {
				t.Fatal(err)
			}
			same := 0
			for i := range got {
				if got[i] == runes(want[i]) {
					same++
				}
			}
			switch {
			case tc.same && same != len(got):
				t.Errorf("%d of %d generations differ from in-process:\ngot  %q\nwant %q", len(got)-same, len(got), got, want)
			case !tc.same && tc.endpoint == openai.EndpointCompletions && same > len(got)-2:
				t.Errorf("with seed_bits %d, %d of %d generations equal in-process ones: the seeds above 2^31 arrived whole", tc.seedBits, same, len(got))
			}
			if tc.endpoint == openai.EndpointChat {
				// the chat template, continued in-process; the answer starts after "Assistant:" and ends at "\nUser:"
				chats := make([]string, len(contexts))
				for i, c := range contexts {
					chats[i] = serve.RenderChat([]serve.Message{{Role: "user", Content: c}})
				}
				wantChat, err := targets.ContinueText(context.Background(), *inproc.Text, chats, seeds)
				if err != nil {
					t.Fatal(err)
				}
				for i := range wantChat {
					w, _, _ := strings.Cut(runes(wantChat[i]), "\nUser:")
					if w = strings.TrimLeft(w, " "); got[i] != w {
						t.Errorf("chat answer %d = %q, want the template's continuation %q", i, got[i], w)
					}
				}
			}
			if n := srv.requests(t, serveToken, route) - before; n != len(contexts) || l.Len() != len(contexts) {
				t.Errorf("server answered %d requests, ledger holds %d records; want %d each", n, l.Len(), len(contexts))
			}
			// again: every answer from the ledger, no request
			before = srv.requests(t, serveToken, route)
			again, err := targets.ContinueText(context.Background(), tt, contexts, seeds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, got) || srv.requests(t, serveToken, route) != before || l.Len() != len(contexts) {
				t.Errorf("repeat: %d requests sent, %d records, texts equal %v; want 0, %d, true",
					srv.requests(t, serveToken, route)-before, l.Len(), reflect.DeepEqual(again, got), len(contexts))
			}
		})
	}
}

// withoutUsage is a metrics.jsonl without the usage_* values, which only
// a run against an HTTP target records.
func withoutUsage(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for line := range bytes.Lines(b) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if v, ok := rec["values"].(map[string]any); ok {
			for k := range v {
				if strings.HasPrefix(k, "usage_") {
					delete(v, k)
				}
			}
		}
		out = append(out, rec)
	}
	return out
}

// TestTextRunThroughServe: a text run through promptgan serve (with a
// token) is the same run as in-process on the same ONNX model — the same
// metrics.jsonl but for the usage values, byte-identical generator and
// discriminator weights, the same hall of fame — when the seeds go whole
// (openai.seed_bits: 64), and a different one when they are cut to 31
// bits. Each call reaches the server once and is in the ledger once.
func TestTextRunThroughServe(t *testing.T) {
	srv := startServe(t, serveToken)
	t.Setenv("PROMPTGAN_SERVE_KEY", serveToken)
	tmp := t.TempDir()
	task, cfg := textFixture(t, "reviews.jsonl"), textFixture(t, "tiny.yaml")
	inproc := filepath.Join(tmp, "inproc")
	if out, errOut, code := run(t, "train", "--task", task, "--target", tinyGPT2, "--config", cfg, "--out", inproc, "--quiet"); code != 0 {
		t.Fatalf("train in-process: exit %d\n%s\n%s", code, out, errOut)
	}
	base, _ := os.ReadFile(cfg)
	for _, tc := range []struct {
		seedBits int
		same     bool
	}{{64, true}, {31, false}} {
		t.Run(fmt.Sprint("seed_bits-", tc.seedBits), func(t *testing.T) {
			yaml := filepath.Join(tmp, fmt.Sprintf("oa%d.yaml", tc.seedBits))
			os.WriteFile(yaml, fmt.Appendf(base, "openai: {seed_bits: %d}\n", tc.seedBits), 0o644)
			dir := filepath.Join(tmp, fmt.Sprint("http", tc.seedBits))
			before := srv.requests(t, serveToken, "POST /v1/completions")
			out, errOut, code := run(t, "train", "--task", task, "--target", "openai:tiny", "--base-url", srv.base,
				"--api-key-env", "PROMPTGAN_SERVE_KEY", "--config", yaml, "--out", dir, "--quiet")
			if code != 0 || !strings.Contains(out, "token usage: ") {
				t.Fatalf("train through serve: exit %d\n%s\n%s", code, out, errOut)
			}
			if sent, records := srv.requests(t, serveToken, "POST /v1/completions")-before, ledgerRecords(t, dir); sent != records || sent == 0 {
				t.Errorf("server answered %d completions, ledger holds %d records: want each call once", sent, records)
			}
			metricsSame := reflect.DeepEqual(withoutUsage(t, filepath.Join(inproc, "metrics.jsonl")), withoutUsage(t, filepath.Join(dir, "metrics.jsonl")))
			step := filepath.Join("checkpoints", "step-0000008")
			weightsSame := true
			for _, f := range []string{"generator.safetensors", "discriminator.safetensors", "optim_g_adv.safetensors", "optim_d.safetensors", "replay.safetensors"} {
				a, errA := os.ReadFile(filepath.Join(inproc, step, f))
				b, errB := os.ReadFile(filepath.Join(dir, step, f))
				if errA != nil || errB != nil {
					t.Fatalf("%s: %v %v", f, errA, errB)
				}
				weightsSame = weightsSame && bytes.Equal(a, b)
			}
			var hofA, hofB any
			for p, v := range map[string]*any{filepath.Join(inproc, step, "halloffame.json"): &hofA, filepath.Join(dir, step, "halloffame.json"): &hofB} {
				b, err := os.ReadFile(p)
				if err != nil || json.Unmarshal(b, v) != nil {
					t.Fatalf("%s: %v", p, err)
				}
			}
			hofSame := reflect.DeepEqual(hofA, hofB)
			if tc.same && !(metricsSame && weightsSame && hofSame) {
				t.Errorf("through serve: metrics equal %v, weights byte-identical %v, hall of fame equal %v; want all", metricsSame, weightsSame, hofSame)
			}
			if !tc.same && metricsSame {
				t.Error("with 31-bit seeds the run equals the in-process one: the test cannot tell seeds apart")
			}
		})
	}
}

// TestOpenAIServeAuth: against a serve started with a token, a run whose
// key is wrong, a placeholder or missing fails before it starts, in one
// line, with exit 1, and leaves no run directory a resume would trip on.
func TestOpenAIServeAuth(t *testing.T) {
	srv := startServe(t, serveToken)
	for _, tc := range []struct {
		name, key string
		want      []string
	}{
		{"wrong key", "serve-token-WRONG", []string{"HTTP 401", "PROMPTGAN_SERVE_KEY was refused"}},
		{"placeholder", "none", []string{"HTTP 401", "PROMPTGAN_SERVE_KEY was refused"}},
		{"no key", "", []string{"PROMPTGAN_SERVE_KEY is not set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PROMPTGAN_SERVE_KEY", tc.key)
			if tc.key == "" {
				os.Unsetenv("PROMPTGAN_SERVE_KEY")
			}
			dir := filepath.Join(t.TempDir(), "run")
			out, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", "openai:tiny", "--base-url", srv.base,
				"--api-key-env", "PROMPTGAN_SERVE_KEY", "--config", textFixture(t, "tiny.yaml"), "--out", dir, "--quiet")
			msg := strings.TrimSpace(errOut)
			if code != 1 || strings.Count(msg, "\n") != 0 || strings.Contains(msg, serveToken) {
				t.Fatalf("exit %d, want 1 and one line without the token:\n%s\n%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "checkpoints")); err == nil {
				t.Errorf("%s/checkpoints exists after a refused start", dir)
			}
		})
	}
}
