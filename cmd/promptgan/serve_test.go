package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"promptgan/serve"
)

// TestServeBadInput: every bad invocation is one clear line with its exit
// status, before anything is served.
func TestServeBadInput(t *testing.T) {
	needORT(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Setenv(serve.TokenEnv, "")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing to serve", []string{"serve"}, 2, "nothing to serve"},
		{"an argument", []string{"serve", "--model", tinyGPT2, "extra"}, 2, "takes no arguments"},
		{"missing model", []string{"serve", "--model", "no/such/dir"}, 1, "no/such/dir"},
		{"not a model", []string{"serve", "--model", "cmd"}, 1, "model.onnx"},
		{"missing run", []string{"serve", "--run", "no/such/run"}, 1, "no/such/run"},
		{"not loopback", []string{"serve", "--model", tinyGPT2, "--addr", "0.0.0.0:8080"}, 2, "not loopback"},
		{"bad address", []string{"serve", "--model", tinyGPT2, "--addr", "8080"}, 2, "--addr"},
		{"busy port", []string{"serve", "--model", tinyGPT2, "--addr", busy.Addr().String()}, 1, "listen on " + busy.Addr().String()},
		{"zero limit", []string{"serve", "--model", tinyGPT2, "--max-concurrent", "0"}, 2, "--max-concurrent"},
		{"bad device", []string{"serve", "--model", tinyGPT2, "--device", "tpu"}, 2, "--device"},
		{"bench above the limit", []string{"bench", "serve", "--model", tinyGPT2, "--concurrency", "9", "--max-concurrent", "8"}, 2, "--concurrency 9"},
		{"bench nothing", []string{"bench", "serve"}, 2, "nothing to load"},
	} {
		out, errOut, code := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || strings.Contains(out, "serving") {
			t.Errorf("%s: exit %d, want %d with %q; stdout %q stderr %q", tc.name, code, tc.code, tc.want, out, errOut)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeCLI serves the tiny GPT-2 on all interfaces with the token from
// the environment, answers a completion, and stops gracefully (status 0)
// when its context ends, as on SIGTERM.
func TestServeCLI(t *testing.T) {
	needORT(t)
	model, err := filepath.Abs(filepath.Join("../..", tinyGPT2))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Setenv(serve.TokenEnv, "env-token")
	app := newApp()
	var out, errOut syncBuffer
	app.Writer, app.ErrWriter = &out, &errOut
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"promptgan", "serve", "--model", model, "--model-name", "tiny", "--threads", "1",
			"--addr", net.JoinHostPort("0.0.0.0", itoa(port))})
	}()
	url := "http://127.0.0.1:" + itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after 20 s: %v\n%s\n%s", err, out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	body := `{"model": "tiny", "prompt": "the soup was", "max_tokens": 4, "temperature": 0}`
	for _, tc := range []struct {
		token  string
		status int
	}{{"", 401}, {"env-token", 200}} {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/completions", strings.NewReader(body))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("token %q: %d, want %d", tc.token, resp.StatusCode, tc.status)
		}
	}
	cancel()
	select {
	case err := <-done:
		if code := exitCode(err); code != 0 {
			t.Fatalf("exit %d after the context ended: %v\n%s", code, err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop 20 s after its context ended")
	}
	if o := out.String(); !strings.Contains(o, "serving model tiny on http://0.0.0.0:") || !strings.Contains(o, "auth: bearer token") || !strings.Contains(o, "stopped after") {
		t.Errorf("output:\n%s", o)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBenchServe runs a small load on the completions endpoint: every
// request answered, none failed or lost.
func TestBenchServe(t *testing.T) {
	needORT(t)
	out, errOut, code := run(t, "bench", "serve", "--model", tinyGPT2, "--requests", "12", "--concurrency", "3", "--max-tokens", "4", "--threads", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "/v1/completions") {
			row = l
		}
	}
	f := strings.Fields(row)
	if len(f) < 9 || f[1] != "3" || f[2] != "12" || f[3] != "12" || f[4] != "0" || f[5] != "0" {
		t.Fatalf("row %q, want 12 requests, 12 ok, 0 failed, 0 lost:\n%s", row, out)
	}
}
