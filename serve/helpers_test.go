package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"promptgan/internal/ort/orttest"
	"promptgan/search"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

const tinyGPT2 = "../internal/ort/export/testdata/tiny-gpt2"

// running is a server serving on a real loopback listener.
type running struct {
	s    *Server
	url  string // http://127.0.0.1:PORT
	addr string
	stop context.CancelFunc
	done chan error // Serve's result
}

// start serves cfg on 127.0.0.1:0 until the test ends (or stop).
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen("127.0.0.1:0")
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return 10 s after its context ended")
		}
		s.Close()
	})
	return r
}

// modelConfig serves the tiny GPT-2 fixture.
func modelConfig(t *testing.T) Config {
	t.Helper()
	orttest.LoadOrSkip(t)
	return Config{ModelDir: tinyGPT2, ModelName: "tiny", Model: onnx.Options{Threads: 1}}
}

// post sends body to url+path with the token (if any) and returns the
// status and the body.
func post(t *testing.T, c *http.Client, url, token, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// errorBody parses OpenAI's error shape, failing the test on anything else.
func errorBody(t *testing.T, b []byte) (message, typ, param, code string) {
	t.Helper()
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", b)
	}
	var p, c string
	if e.Error.Param != nil {
		p = *e.Error.Param
	}
	if e.Error.Code != nil {
		c = *e.Error.Code
	}
	return e.Error.Message, e.Error.Type, p, c
}

// direct decodes text with the tiny model in-process with the given
// settings: what the server must answer.
func direct(t *testing.T, text string, dec onnx.Decode, seed uint64) ([]int32, *onnx.Model) {
	t.Helper()
	m, err := onnx.Open(tinyGPT2, onnx.Options{Threads: 1, Decode: dec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ids, err := m.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.Generate(context.Background(), []backend.Request{{Prompt: ids, Seed: seed}})
	if err != nil {
		t.Fatal(err)
	}
	return g[0].Tokens, m
}

// blockingScorer is a Scorer whose calls wait until release is closed: it
// holds a request in flight for the concurrency and shutdown tests (the
// network and the server are real).
type blockingScorer struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlockingScorer(t *testing.T) *blockingScorer {
	b := &blockingScorer{entered: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(b.Release)
	return b
}

// Release lets every call (now and later) return.
func (b *blockingScorer) Release() { b.once.Do(func() { close(b.release) }) }

func (b *blockingScorer) ScorePairs(ctx context.Context, pairs []search.Pair, _ search.PairScorer) ([]search.PairScore, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := make([]search.PairScore, len(pairs))
	for i, p := range pairs {
		out[i] = search.PairScore{Pair: p, Score: float64(len(p.Generation)) / 100}
	}
	return out, nil
}

func (b *blockingScorer) ScorePrompts(ctx context.Context, prompts []string, _ search.ScoreOptions) ([]search.PromptScore, error) {
	return nil, nil
}

func (b *blockingScorer) SearchPrompts(ctx context.Context, _ search.SearchOptions) (search.SearchResult, error) {
	return search.SearchResult{}, nil
}

// rawConn dials the server over TCP.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
