package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"promptgan/internal/ort/orttest"
	"promptgan/serve"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

const tinyGPT2 = "../../internal/ort/export/testdata/tiny-gpt2"

// start serves cfg on 127.0.0.1:0 until the test ends and returns its URL.
func start(t *testing.T, cfg serve.Config) string {
	t.Helper()
	s, err := serve.New(cfg)
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
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	})
	return "http://" + ln.Addr().String()
}

// modelConfig serves the tiny GPT-2 fixture as "tiny".
func modelConfig(t *testing.T) serve.Config {
	t.Helper()
	orttest.LoadOrSkip(t)
	return serve.Config{ModelDir: tinyGPT2, ModelName: "tiny", Model: onnx.Options{Threads: 1}}
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

func sdk(url, key string) openai.Client {
	return openai.NewClient(option.WithUnsafeAllowHTTP(), option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// TestOpenAISDK drives both endpoints with the official Go SDK and checks
// every answer against the model decoded in-process with the same settings.
func TestOpenAISDK(t *testing.T) {
	cfg := modelConfig(t)
	cfg.Token = "s3cret"
	url := start(t, cfg)
	client := sdk(url, cfg.Token)
	ctx := context.Background()

	for _, tc := range []struct {
		name        string
		prompt      string
		maxTokens   int64
		temperature float64
		topP        float64
		seed        int64
	}{
		{"greedy", "the soup was", 8, 0, 1, 0},
		{"sampled", "the staff was", 12, 0.9, 1, 7},
		{"nucleus", "we will come", 5, 1.2, 0.8, 99},
		{"long bucket", "a", 40, 1, 1, 3}, // decoded as 64, cut to 40
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := client.Completions.New(ctx, openai.CompletionNewParams{
				Model:       "tiny",
				Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(tc.prompt)},
				MaxTokens:   openai.Int(tc.maxTokens),
				Temperature: openai.Float(tc.temperature),
				TopP:        openai.Float(tc.topP),
				Seed:        openai.Int(tc.seed),
			})
			if err != nil {
				t.Fatal(err)
			}
			topP := tc.topP
			if tc.temperature == 0 {
				topP = 0
			}
			toks, m := direct(t, tc.prompt, onnx.Decode{MaxNewTokens: int(tc.maxTokens), Temperature: tc.temperature, TopP: topP}, uint64(tc.seed))
			want := decodeJSON(t, m, toks)
			if len(got.Choices) != 1 || got.Choices[0].Text != want {
				t.Fatalf("choices %+v, want one with text %q", got.Choices, want)
			}
			wantFinish := "stop"
			if len(toks) == int(tc.maxTokens) {
				wantFinish = "length"
			}
			if f := string(got.Choices[0].FinishReason); f != wantFinish {
				t.Errorf("finish_reason %q, want %q (%d tokens of %d)", f, wantFinish, len(toks), tc.maxTokens)
			}
			ids, _ := m.Encode(tc.prompt)
			ctxTokens := len(ids)
			if m.Info().AddBOS {
				ctxTokens++
			}
			u := got.Usage
			if u.PromptTokens != int64(ctxTokens) || u.CompletionTokens != int64(len(toks)) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage %+v, want prompt %d completion %d", u, ctxTokens, len(toks))
			}
			if got.Model != "tiny" || got.ID == "" || got.Object != "text_completion" {
				t.Errorf("model %q id %q object %q", got.Model, got.ID, got.Object)
			}
		})
	}

	t.Run("prompt list and ids", func(t *testing.T) {
		got, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:       "tiny",
			Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"the soup was", "the staff was"}},
			MaxTokens:   openai.Int(6),
			Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Choices) != 2 {
			t.Fatalf("%d choices, want 2", len(got.Choices))
		}
		for i, p := range []string{"the soup was", "the staff was"} {
			toks, m := direct(t, p, onnx.Decode{MaxNewTokens: 6}, 0)
			want := decodeJSON(t, m, toks)
			if got.Choices[i].Text != want || got.Choices[i].Index != int64(i) {
				t.Errorf("choice %d: %q (index %d), want %q", i, got.Choices[i].Text, got.Choices[i].Index, want)
			}
			ids, _ := m.Encode(p)
			byIDs, err := client.Completions.New(ctx, openai.CompletionNewParams{
				Model: "tiny", Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: toInt64(ids)},
				MaxTokens: openai.Int(6), Temperature: openai.Float(0),
			})
			if err != nil {
				t.Fatal(err)
			}
			if byIDs.Choices[0].Text != want {
				t.Errorf("prompt %d as token ids: %q, want %q", i, byIDs.Choices[0].Text, want)
			}
		}
	})

	t.Run("stop", func(t *testing.T) {
		full, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("the room was")}, MaxTokens: openai.Int(16), Temperature: openai.Float(0)})
		if err != nil {
			t.Fatal(err)
		}
		text := full.Choices[0].Text
		if len(text) < 4 {
			t.Skipf("generation %q too short to cut", text)
		}
		stop := text[len(text)/2 : len(text)/2+2]
		cut, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny",
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("the room was")},
			MaxTokens: openai.Int(16), Temperature: openai.Float(0), Stop: openai.CompletionNewParamsStopUnion{OfString: openai.String(stop)}})
		if err != nil {
			t.Fatal(err)
		}
		want := text[:strings.Index(text, stop)]
		if cut.Choices[0].Text != want || cut.Choices[0].FinishReason != "stop" {
			t.Fatalf("stop %q: %q (%s), want %q (stop)", stop, cut.Choices[0].Text, cut.Choices[0].FinishReason, want)
		}
		if cut.Usage.CompletionTokens < 1 || cut.Usage.CompletionTokens > full.Usage.CompletionTokens {
			t.Errorf("completion_tokens %d after a stop, %d without", cut.Usage.CompletionTokens, full.Usage.CompletionTokens)
		}
	})

	t.Run("chat", func(t *testing.T) {
		got, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:       "tiny",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("how was the soup?")},
			MaxTokens:   openai.Int(10),
			Temperature: openai.Float(0.7),
			Seed:        openai.Int(5),
		})
		if err != nil {
			t.Fatal(err)
		}
		prompt := serve.RenderChat([]serve.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "how was the soup?"}})
		if prompt != "System: be brief\nUser: how was the soup?\nAssistant:" {
			t.Fatalf("template %q", prompt)
		}
		toks, m := direct(t, prompt, onnx.Decode{MaxNewTokens: 10, Temperature: 0.7}, 5)
		want, _ := m.Decode(toks)
		if i := strings.Index(want, "\nUser:"); i >= 0 {
			want = want[:i]
		}
		want = jsonText(t, strings.TrimLeft(want, " "))
		if len(got.Choices) != 1 || got.Choices[0].Message.Content != want || got.Choices[0].Message.Role != "assistant" {
			t.Fatalf("choices %+v, want the assistant's %q", got.Choices, want)
		}
		if got.Object != "chat.completion" || got.Usage.PromptTokens < 5 {
			t.Errorf("object %q usage %+v", got.Object, got.Usage)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		wrong := sdk(url, "wrong")
		_, err := wrong.Models.List(ctx)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
			t.Fatalf("a wrong key: %v, want 401 invalid_api_key", err)
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != "tiny" {
			t.Fatalf("models %+v", page.Data)
		}
		// models.retrieve: the list's entry, and 404 for another id.
		m, err := client.Models.Get(ctx, "tiny")
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != "tiny" || m.Object != "model" || m.Created != page.Data[0].Created || m.OwnedBy != page.Data[0].OwnedBy {
			t.Errorf("retrieve %+v, want the list's %+v", m, page.Data[0])
		}
		_, err = client.Models.Get(ctx, "gpt-4")
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
			t.Errorf("retrieve gpt-4: %v, want 404 model_not_found", err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			params openai.CompletionNewParams
			status int
			param  string
		}{
			{"unknown model", openai.CompletionNewParams{Model: "gpt-4", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}}, 404, "model"},
			{"n 2", openai.CompletionNewParams{Model: "tiny", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}, N: openai.Int(2)}, 400, "n"},
			{"max_tokens over the limit", openai.CompletionNewParams{Model: "tiny", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}, MaxTokens: openai.Int(100000)}, 400, "max_tokens"},
			{"too long for the model", openai.CompletionNewParams{Model: "tiny", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(strings.Repeat("soup ", 120))}, MaxTokens: openai.Int(64)}, 400, "prompt"},
		} {
			_, err := client.Completions.New(ctx, tc.params)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("%s: error %v, want an API error", tc.name, err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Param != tc.param || apiErr.Message == "" {
				t.Errorf("%s: %d param %q message %q, want %d param %q", tc.name, apiErr.StatusCode, apiErr.Param, apiErr.Message, tc.status, tc.param)
			}
		}
	})
}

// decodeJSON is the text of toks as a JSON string carries it: the tiny
// model writes bytes that are not UTF-8, which encoding/json replaces.
func decodeJSON(t *testing.T, m *onnx.Model, toks []int32) string {
	t.Helper()
	text, err := m.Decode(toks)
	if err != nil {
		t.Fatal(err)
	}
	return jsonText(t, text)
}

func jsonText(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func toInt64(ids []int32) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// TestBatchIndependence sends the same request alone, then among many
// concurrent requests batched with it: the text must not change, and the
// batcher must have decoded several requests together.
func TestBatchIndependence(t *testing.T) {
	cfg := modelConfig(t)
	cfg.BatchWindow = 100 * time.Millisecond
	cfg.MaxBatch = 16
	url := start(t, cfg)
	client := sdk(url, "")
	ctx := context.Background()
	ask := func(prompt string, seed int64) (string, error) {
		got, err := client.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)}, MaxTokens: openai.Int(12),
			Temperature: openai.Float(0.9), Seed: openai.Int(seed)})
		if err != nil {
			return "", err
		}
		return got.Choices[0].Text, nil
	}
	alone, err := ask("the soup was", 42)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	texts := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i == n/2 {
				texts[i], errs[i] = ask("the soup was", 42)
			} else {
				texts[i], errs[i] = ask(fmt.Sprintf("%s number %d", strings.Repeat("we ", i%4+1), i), int64(i))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if texts[n/2] != alone {
		t.Fatalf("in a batch: %q, alone: %q", texts[n/2], alone)
	}
	// The batch-size histogram: some decode must have held several requests.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "promptgan_decode_batch_size_count") {
		t.Fatalf("no batch-size metric in:\n%s", b)
	}
	var count, sum float64
	for _, line := range strings.Split(string(b), "\n") {
		fmt.Sscanf(line, "promptgan_decode_batch_size_count %g", &count)
		fmt.Sscanf(line, "promptgan_decode_batch_size_sum %g", &sum)
	}
	if sum != n+1 || count >= sum {
		t.Fatalf("%v requests decoded in %v batches: want %d requests, batched", sum, count, n+1)
	}
}
