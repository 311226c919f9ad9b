package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"promptgan/targets/backend"
)

// Usage counts a response's tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`     // context tokens fed, BOS included
	CompletionTokens int `json:"completion_tokens"` // tokens generated up to the end of the returned text
	TotalTokens      int `json:"total_tokens"`
}

// CompletionChoice is one choice of a /v1/completions response.
type CompletionChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"` // "stop" (end of text or a stop sequence) or "length" (max_tokens)
}

// CompletionResponse is the body of a /v1/completions answer.
type CompletionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`  // "text_completion"
	Created int64              `json:"created"` // when the answer was ready (Unix s)
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   Usage              `json:"usage"`
}

// ChatMessage is the assistant's answer in a chat choice.
type ChatMessage struct {
	Role    string  `json:"role"` // "assistant"
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

// ChatChoice is one choice of a /v1/chat/completions response.
type ChatChoice struct {
	Index        int         `json:"index"`
	Message      ChatMessage `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

// ChatResponse is the body of a /v1/chat/completions answer.
type ChatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`  // "chat.completion"
	Created int64        `json:"created"` // when the answer was ready (Unix s)
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   Usage        `json:"usage"`
}

// completion is one prompt's answer.
type completion struct {
	text         string
	finish       string
	promptTokens int
	genTokens    int
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) *APIError {
	body, e := s.readBody(r)
	if e != nil {
		return e
	}
	req, e := DecodeCompletion(body, s.cfg.Limits)
	if e != nil {
		return e
	}
	out, e := s.complete(r.Context(), req)
	if e != nil {
		return e
	}
	// created is when the answer is ready, as OpenAI's is (a client orders
	// or ages its responses by it), not when the server started.
	resp := CompletionResponse{ID: s.requestID("cmpl"), Object: "text_completion", Created: s.cfg.Now().Unix(), Model: s.cfg.ModelName}
	for i, c := range out {
		resp.Choices = append(resp.Choices, CompletionChoice{Text: c.text, Index: i, FinishReason: c.finish})
		resp.Usage.PromptTokens += c.promptTokens
		resp.Usage.CompletionTokens += c.genTokens
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens + resp.Usage.CompletionTokens
	writeJSON(w, resp)
	return nil
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) *APIError {
	body, e := s.readBody(r)
	if e != nil {
		return e
	}
	req, e := DecodeChat(body, s.cfg.Limits)
	if e != nil {
		return e
	}
	out, e := s.complete(r.Context(), req)
	if e != nil {
		return e
	}
	c := out[0]
	// The template ends with "Assistant:"; the model's answer starts with
	// the space after it.
	resp := ChatResponse{ID: s.requestID("chatcmpl"), Object: "chat.completion", Created: s.cfg.Now().Unix(), Model: s.cfg.ModelName,
		Choices: []ChatChoice{{Message: ChatMessage{Role: "assistant", Content: strings.TrimLeft(c.text, " ")}, FinishReason: c.finish}},
		Usage:   Usage{PromptTokens: c.promptTokens, CompletionTokens: c.genTokens, TotalTokens: c.promptTokens + c.genTokens}}
	writeJSON(w, resp)
	return nil
}

// modelObject is an entry of GET /v1/models, and GET /v1/models/{id}'s
// answer.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`  // "model"
	Created int64  `json:"created"` // the server's start: when the model was opened
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelObject() modelObject {
	return modelObject{ID: s.cfg.ModelName, Object: "model", Created: s.created, OwnedBy: "promptgan"}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) *APIError {
	data := []modelObject{}
	if s.pool != nil {
		data = append(data, s.modelObject())
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
	return nil
}

// retrieveModel answers GET /v1/models/{id}: the SDKs' models.retrieve, which
// clients call to check a model exists before using it.
func (s *Server) retrieveModel(w http.ResponseWriter, r *http.Request) *APIError {
	id := r.PathValue("id")
	if s.pool == nil {
		return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %q is not served here: this server serves no model, only the scoring API", id)}
	}
	if id != s.cfg.ModelName {
		return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %q is not served here; this server serves %q (GET /v1/models)", id, s.cfg.ModelName)}
	}
	writeJSON(w, s.modelObject())
	return nil
}

// prepared is one prompt ready to decode.
type prepared struct {
	ids []int32
	ctx int // context tokens fed (BOS included)
}

// complete decodes every prompt of req (each through the batcher of its
// decoding settings) and applies max_tokens and the stop sequences.
func (s *Server) complete(ctx context.Context, req *CompletionRequest) ([]completion, *APIError) {
	if req.Model != s.cfg.ModelName {
		return nil, &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %q is not served here; this server serves %q (GET /v1/models)", req.Model, s.cfg.ModelName)}
	}
	preps := make([]prepared, len(req.Prompts))
	for i, p := range req.Prompts {
		param := "prompt"
		if req.Chat {
			param = "messages"
		}
		ids := p.IDs
		if !p.IsIDs {
			var err error
			if ids, err = s.model.Encode(p.Text); err != nil {
				return nil, invalid(param, "encode prompt %d: %v", i, err)
			}
		}
		for j, id := range ids {
			if int(id) >= s.info.Vocab {
				return nil, invalid(param, "prompt %d: token %d = %d is not below the vocabulary size %d", i, j, id, s.info.Vocab)
			}
		}
		n := len(ids)
		if s.info.AddBOS || (n == 0 && s.info.BOS >= 0) {
			n++
		}
		if n == 0 {
			return nil, invalid(param, "prompt %d is empty and the model has no BOS token to start from", i)
		}
		if p := s.info.MaxPositions; p > 0 && n+req.MaxTokens-1 > p {
			return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Code: "context_length_exceeded",
				Message: fmt.Sprintf("prompt %d: %d context tokens + max_tokens %d exceed the model's %d positions", i, n, req.MaxTokens, p)}
		}
		preps[i] = prepared{ids: ids, ctx: n}
	}
	seed := req.Seed
	if !req.HasSeed {
		seed = s.drawSeed()
	}
	out := make([]completion, len(preps))
	errs := make([]error, len(preps))
	var wg sync.WaitGroup
	for i, p := range preps {
		wg.Go(func() {
			key := decodeKey{temperature: req.Temperature, topP: req.TopP, maxNew: bucket(req.MaxTokens, p.ctx, s.info.MaxPositions)}
			if key.temperature == 0 || key.topP == 1 {
				key.topP = 0 // greedy takes no top_p; 1 is off
			}
			d, err := s.pool.acquire(ctx, key)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.pool.release(d)
			toks, err := d.generate(ctx, backend.Request{Prompt: p.ids, Seed: seed})
			if err != nil {
				errs[i] = err
				return
			}
			out[i], errs[i] = s.finish(toks, req, p.ctx)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, failure(ctx, "decode", err)
		}
	}
	return out, nil
}

// finish cuts a generation at max_tokens and at the first stop sequence.
func (s *Server) finish(toks []int32, req *CompletionRequest, ctxTokens int) (completion, error) {
	finish := "stop"
	if len(toks) >= req.MaxTokens {
		toks, finish = toks[:req.MaxTokens], "length"
	}
	text, err := s.model.Decode(toks)
	if err != nil {
		return completion{}, err
	}
	cut, n := -1, len(toks)
	for _, stop := range req.Stop {
		if i := strings.Index(text, stop); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		// completion_tokens counts the tokens up to the one that completes
		// the stop sequence: what was decoded for the text returned.
		for k := 1; k <= len(toks); k++ {
			t, err := s.model.Decode(toks[:k])
			if err != nil {
				return completion{}, err
			}
			if len(t) >= cut+1 && hasStop(t, req.Stop) {
				n = k
				break
			}
		}
		text, finish = text[:cut], "stop"
	}
	return completion{text: text, finish: finish, promptTokens: ctxTokens, genTokens: n}, nil
}

func hasStop(text string, stops []string) bool {
	for _, s := range stops {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}
