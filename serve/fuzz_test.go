package serve

import (
	"strings"
	"testing"
)

var fuzzLimits = Limits{MaxTokens: 64, DefaultMaxTokens: 16, MaxPrompts: 8}

// checkError: a refusal is a 400 with a message, never a panic.
func checkError(t *testing.T, e *APIError) {
	t.Helper()
	if e.Status != 400 || e.Message == "" || e.Type != "invalid_request_error" || e.Code == "" {
		t.Fatalf("refusal %+v: want a 400 invalid_request_error with a message and a code", e)
	}
	if _, err := e.MarshalJSON(); err != nil {
		t.Fatal(err)
	}
}

func checkCompletion(t *testing.T, req *CompletionRequest, e *APIError) {
	t.Helper()
	if e != nil {
		checkError(t, e)
		return
	}
	switch {
	case req.Model == "":
		t.Fatal("accepted without a model")
	case len(req.Prompts) < 1 || len(req.Prompts) > fuzzLimits.MaxPrompts:
		t.Fatalf("accepted %d prompts", len(req.Prompts))
	case req.MaxTokens < 1 || req.MaxTokens > fuzzLimits.MaxTokens:
		t.Fatalf("accepted max_tokens %d", req.MaxTokens)
	case !(req.Temperature >= 0 && req.Temperature <= 2):
		t.Fatalf("accepted temperature %v", req.Temperature)
	case !(req.TopP > 0 && req.TopP <= 1):
		t.Fatalf("accepted top_p %v", req.TopP)
	case len(req.Stop) > maxStops+len(chatStops):
		t.Fatalf("accepted %d stops", len(req.Stop))
	}
	for _, s := range req.Stop {
		if s == "" {
			t.Fatal("accepted an empty stop sequence")
		}
	}
	for _, p := range req.Prompts {
		for _, id := range p.IDs {
			if id < 0 {
				t.Fatalf("accepted token id %d", id)
			}
		}
	}
}

func FuzzDecodeCompletion(f *testing.F) {
	for _, s := range []string{
		`{"model": "m", "prompt": "hello", "max_tokens": 8, "temperature": 0.5, "top_p": 0.9, "stop": ["\n", "."], "seed": -3}`,
		`{"model": "m", "prompt": ["a", "b"], "n": 1, "stream": false, "logprobs": null}`,
		`{"model": "m", "prompt": [1, 2, 3], "max_tokens": 0}`,
		`{"model": "m", "prompt": [[1], [2, 3]], "stop": "x"}`,
		`{"model": "m", "prompt": "x", "n": 2}`,
		`{"model": "m", "messages": []}`,
		`{"model": "m", "prompt": "x"} trailing`,
		`[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := DecodeCompletion(body, fuzzLimits)
		checkCompletion(t, req, e)
	})
}

func FuzzDecodeChat(f *testing.F) {
	for _, s := range []string{
		`{"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_completion_tokens": 5}`,
		`{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}`,
		`{"model": "m", "messages": [{"role": "tool", "content": "x"}]}`,
		`{"model": "m", "messages": [{"role": "user"}], "response_format": {"type": "json_object"}}`,
		`{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 3, "max_completion_tokens": 4}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := DecodeChat(body, fuzzLimits)
		checkCompletion(t, req, e)
		if e == nil && (len(req.Prompts) != 1 || !req.Chat || !strings.HasSuffix(req.Prompts[0].Text, "Assistant:")) {
			t.Fatalf("chat request %+v: want one prompt rendered by the template", req)
		}
	})
}

func FuzzDecodeScorePrompts(f *testing.F) {
	for _, s := range []string{
		`{"prompts": ["a", "b"], "samples": 4, "seed": 2, "generations": true}`,
		`{"prompts": []}`, `{"prompts": [" "]}`, `{"prompts": ["a"], "samples": 65}`, `{"prompts": ["a"], "extra": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		opt, prompts, e := DecodeScorePrompts(body)
		if e != nil {
			checkError(t, e)
			return
		}
		if len(prompts) < 1 || len(prompts) > MaxScorePrompts || opt.Samples < 1 || opt.Samples > MaxScoreSamples {
			t.Fatalf("accepted %d prompts, %d samples", len(prompts), opt.Samples)
		}
		for _, p := range prompts {
			if strings.TrimSpace(p) == "" {
				t.Fatal("accepted a blank prompt")
			}
		}
	})
}

func FuzzDecodeScorePairs(f *testing.F) {
	for _, s := range []string{
		`{"pairs": [{"input": "q", "generation": "a"}]}`, `{"pairs": [{"generation": ""}]}`, `{"pairs": null}`, `{"pairs": [1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pairs, e := DecodeScorePairs(body)
		if e != nil {
			checkError(t, e)
			return
		}
		if len(pairs) < 1 || len(pairs) > MaxScorePairs {
			t.Fatalf("accepted %d pairs", len(pairs))
		}
		for _, p := range pairs {
			if strings.TrimSpace(p.Generation) == "" {
				t.Fatal("accepted a blank generation")
			}
		}
	})
}

func FuzzDecodeSearch(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"n": 12, "temperature": 0.7, "screen": 2, "top": 3, "verify": 4, "seed": 5}`, `{"n": 0}`, `{"temperature": 0}`, `{"top": 1e9}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		opt, e := DecodeSearch(body)
		if e != nil {
			checkError(t, e)
			return
		}
		if opt.Draws < 1 || opt.Draws > MaxSearchDraws || opt.Screen < 1 || opt.Screen > MaxSearchScreen ||
			opt.Top < 1 || opt.Top > MaxSearchTop || opt.Verify < 1 || opt.Verify > MaxSearchVerify || !(opt.Temperature > 0) {
			t.Fatalf("accepted %+v", opt)
		}
	})
}
