package openai_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"promptgan/targets/backend"
	"promptgan/targets/openai"
	"promptgan/targets/openai/openaitest"
)

const secret = "sk-test-SECRET-0123456789"

func env(name string) func(string) string {
	return func(k string) string {
		if k == name {
			return secret
		}
		return ""
	}
}

func open(t *testing.T, base string, mod func(*openai.Options)) *openai.Model {
	t.Helper()
	o := openai.Options{BaseURL: base, Model: "tiny", MaxTokens: 8, Getenv: env(openai.DefaultAPIKeyEnv),
		Concurrency: 4, Timeout: 300 * time.Millisecond, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		MaxRetryAfter: 20 * time.Millisecond, MaxRetries: 10}
	if mod != nil {
		mod(&o)
	}
	m, err := openai.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func reqs(n int) []backend.Request {
	out := make([]backend.Request, n)
	for i := range out {
		p, _ := (&openai.Model{}).Encode("prompt number " + strings.Repeat("x", i%7))
		out[i] = backend.Request{Prompt: p, Seed: uint64(1000 + i)}
	}
	return out
}

// TestFaultsRetried: every fault the server injects is retried, and each
// request is answered (paid) exactly once, with the server's generation.
func TestFaultsRetried(t *testing.T) {
	for _, endpoint := range []string{openai.EndpointCompletions, openai.EndpointChat} {
		t.Run(endpoint, func(t *testing.T) {
			srv := openaitest.New(openaitest.Options{Model: "tiny", Key: secret, FaultEvery: 2, Slow: 2 * time.Second})
			defer srv.Close()
			m := open(t, srv.BaseURL(), func(o *openai.Options) { o.Endpoint = endpoint })
			rs := reqs(48)
			gens, err := m.Generate(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range gens {
				text, _ := m.Decode(g.Tokens)
				ctx, _ := m.Decode(rs[i].Prompt)
				want, finish := openaitest.Generate(ctx, int64(rs[i].Seed), 8)
				if text != want || (finish == "stop") != (g.Tokens[len(g.Tokens)-1] == openai.EndID) {
					t.Fatalf("generation %d = %q (%v), want %q (%s)", i, text, g.Tokens, want, finish)
				}
				if g.Usage.CompletionTokens != len(strings.Fields(want)) || g.Usage.FromLedger {
					t.Errorf("generation %d: usage %+v", i, g.Usage)
				}
			}
			tally, st := srv.Tally(), m.Stats()
			if tally.Distinct != len(rs) || tally.Repeats != 0 || st.Calls != int64(len(rs)) {
				t.Errorf("server answered %d distinct requests, %d twice; client paid %d; want %d once each", tally.Distinct, tally.Repeats, st.Calls, len(rs))
			}
			if len(tally.Injected) != len(openaitest.AllFaults) || st.Retries != int64(tally.Faults) {
				t.Errorf("faults injected %v (%d), client retries %d: want every kind, one retry each", tally.Injected, tally.Faults, st.Retries)
			}
			t.Logf("fault-injection tally (%s): %d faults injected %v, %d retries, %d calls paid, %d calls lost, %d paid twice",
				endpoint, tally.Faults, tally.Injected, st.Retries, st.Calls, len(rs)-tally.Distinct, tally.Repeats)
		})
	}
}

// TestRetryAfter: a 429's Retry-After in seconds is waited for.
func TestRetryAfter(t *testing.T) {
	srv := openaitest.New(openaitest.Options{Model: "tiny", FaultEvery: 1, Faults: []openaitest.Fault{openaitest.Fault429RetryAfter}, RetryAfter: "1"})
	defer srv.Close()
	m := open(t, srv.BaseURL(), func(o *openai.Options) {
		o.MaxRetryAfter = 5 * time.Second
		o.MaxRetries = 1
		o.Timeout = 5 * time.Second
	})
	start := time.Now()
	_, err := m.Generate(context.Background(), reqs(1))
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("err = %v, want a 429 after 2 attempts", err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("retried after %s, before the server's Retry-After of 1 s", took)
	}
}

// TestErrors: what cannot succeed fails at once, in one line that says
// what is wrong, and never shows the key.
func TestErrors(t *testing.T) {
	srv := openaitest.New(openaitest.Options{Model: "tiny", Key: secret})
	defer srv.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Welcome to nginx!</body></html>"))
	}))
	defer html.Close()
	wrongJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status": "ok"}`))
	}))
	defer wrongJSON.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL + "/v1"
	gone.Close()
	tests := []struct {
		name  string
		base  string
		mod   func(*openai.Options)
		check bool // the error comes from Check (else from Generate)
		want  string
	}{
		{"wrong model", srv.BaseURL(), func(o *openai.Options) { o.Model = "nope" }, true, `model "nope" is not served by ` + srv.BaseURL() + " (it serves tiny)"},
		{"wrong model, call", srv.BaseURL(), func(o *openai.Options) { o.Model = "nope" }, false, "HTTP 404 Not Found: The model `nope` does not exist"},
		{"wrong key", srv.BaseURL(), func(o *openai.Options) { o.Getenv = func(string) string { return "sk-wrong" } }, true, "HTTP 401 Unauthorized: Incorrect API key provided (the key in OPENAI_API_KEY was refused)"},
		{"HTML", html.URL, nil, true, "not an OpenAI-compatible server"},
		{"HTML, call", html.URL, nil, false, `answered "text/html", not JSON`},
		{"wrong JSON", wrongJSON.URL, nil, true, "not an OpenAI-compatible server"},
		{"wrong JSON, call", wrongJSON.URL, nil, false, "JSON without choices"},
		{"unreachable", goneURL, nil, true, "cannot reach " + goneURL + "/models: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := open(t, tc.base, func(o *openai.Options) {
				o.MaxRetries = -1
				if tc.mod != nil {
					tc.mod(o)
				}
			})
			var err error
			if tc.check {
				err = m.Check(context.Background())
			} else {
				_, err = m.Generate(context.Background(), reqs(3))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), secret) {
				t.Errorf("err is not one line without the key: %q", err)
			}
		})
	}
	if err := open(t, srv.BaseURL(), nil).Check(context.Background()); err != nil {
		t.Errorf("Check of a good server: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	base := openai.Options{BaseURL: "http://127.0.0.1:1/v1", Model: "m", MaxTokens: 4, Getenv: env("MY_KEY"), APIKeyEnv: "MY_KEY"}
	tests := []struct {
		name string
		mod  func(*openai.Options)
		want string
	}{
		{"no key", func(o *openai.Options) { o.APIKeyEnv = "OTHER_KEY" }, "environment variable OTHER_KEY is not set"},
		{"bad URL", func(o *openai.Options) { o.BaseURL = "127.0.0.1:8000" }, `base URL "127.0.0.1:8000": want http://`},
		{"key in URL", func(o *openai.Options) { o.BaseURL = "http://me:" + secret + "@host/v1" }, "holds a user name or password"},
		{"endpoint", func(o *openai.Options) { o.Endpoint = "responses" }, `endpoint "responses": choose completions or chat`},
		{"max tokens", func(o *openai.Options) { o.MaxTokens = 0 }, "max_tokens = 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mod(&o)
			_, err := openai.Open(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
				t.Fatalf("err = %v, want %q without the key", err, tc.want)
			}
		})
	}
}

// TestFingerprint: every decode setting, the URL, model and endpoint change
// it; the key and the execution settings do not.
func TestFingerprint(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	base := openai.Options{BaseURL: "http://h/v1", Model: "m", MaxTokens: 4, Getenv: env(openai.DefaultAPIKeyEnv)}
	fp := func(mod func(*openai.Options)) string {
		o := base
		mod(&o)
		m, err := openai.Open(o)
		if err != nil {
			t.Fatal(err)
		}
		return m.Fingerprint()
	}
	ref := fp(func(*openai.Options) {})
	if want := "promptgan/target/openai/v1;base_url=http://h/v1;model=m;endpoint=completions;max_tokens=4;temperature=1;top_p=1;stop=[];seed=request"; ref != want {
		t.Errorf("fingerprint = %s\nwant          %s", ref, want)
	}
	for name, mod := range map[string]func(*openai.Options){
		"url": func(o *openai.Options) { o.BaseURL = "http://g/v1" }, "model": func(o *openai.Options) { o.Model = "n" },
		"endpoint": func(o *openai.Options) { o.Endpoint = openai.EndpointChat }, "max_tokens": func(o *openai.Options) { o.MaxTokens = 5 },
		"temperature": func(o *openai.Options) { o.Temperature = f(0.7) }, "top_p": func(o *openai.Options) { o.TopP = f(0.9) },
		"stop": func(o *openai.Options) { o.Stop = []string{"\n"} }, "seed_bits": func(o *openai.Options) { o.SeedBits = 64 },
	} {
		if fp(mod) == ref {
			t.Errorf("%s does not change the fingerprint", name)
		}
	}
	for name, mod := range map[string]func(*openai.Options){
		"key":         func(o *openai.Options) { o.Getenv = func(string) string { return "other" } },
		"concurrency": func(o *openai.Options) { o.Concurrency = 99 }, "timeout": func(o *openai.Options) { o.Timeout = time.Hour },
		"seed_bits 31": func(o *openai.Options) { o.SeedBits = 31 }, // the default: ledgers from before seed_bits still answer
	} {
		if fp(mod) != ref {
			t.Errorf("%s changes the fingerprint", name)
		}
	}
	if strings.Contains(ref, secret) {
		t.Error("the fingerprint holds the key")
	}
}

// TestSeedBits: with 31 bits a request's seed arrives mod 2^31, with 64
// bits as the int64 of its bits (negative above 2^63), so that the
// server's generation is the one of the whole seed.
func TestSeedBits(t *testing.T) {
	srv := openaitest.New(openaitest.Options{Model: "tiny", Key: secret})
	defer srv.Close()
	for _, tc := range []struct {
		bits int
		seed uint64
		sent int64
	}{
		{0, 1<<40 + 7, 7},
		{31, 1<<40 + 7, 7},
		{31, 1<<31 - 1, 1<<31 - 1},
		{64, 1<<40 + 7, 1<<40 + 7},
		{64, 1<<63 + 5, -(1 << 63) + 5},
		{64, 3, 3},
	} {
		m := open(t, srv.BaseURL(), func(o *openai.Options) { o.SeedBits = tc.bits })
		p, _ := m.Encode("seeded")
		gens, err := m.Generate(context.Background(), []backend.Request{{Prompt: p, Seed: tc.seed}})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := m.Decode(gens[0].Tokens)
		if want, _ := openaitest.Generate("seeded", tc.sent, 8); got != want {
			t.Errorf("seed_bits %d, seed %d: generation %q, want the one of seed %d, %q", tc.bits, tc.seed, got, tc.sent, want)
		}
	}
	if _, err := openai.Open(openai.Options{BaseURL: srv.BaseURL(), Model: "tiny", MaxTokens: 8, Getenv: env(openai.DefaultAPIKeyEnv), SeedBits: 32}); err == nil || !strings.Contains(err.Error(), "seed_bits = 32") {
		t.Errorf("seed_bits 32: err = %v, want one naming seed_bits", err)
	}
}

// TestConnectionsReused: calls in flight at once reuse their connections
// from batch to batch (http.DefaultClient would keep only two of them and
// open a new one for every other call).
func TestConnectionsReused(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond) // the calls of a batch overlap
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"text_completion","created":1,"model":"tiny","choices":[{"text":"ok","index":0,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	const concurrency, batches = 16, 4
	m := open(t, srv.URL+"/v1", func(o *openai.Options) { o.Concurrency = concurrency; o.Timeout = 5 * time.Second })
	for range batches {
		if _, err := m.Generate(context.Background(), reqs(concurrency)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns > concurrency {
		t.Errorf("%d batches of %d calls opened %d connections, want at most %d", batches, concurrency, conns, concurrency)
	}
}
