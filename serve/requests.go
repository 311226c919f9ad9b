package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Limits bound what one completions request may ask for.
type Limits struct {
	MaxTokens        int // most max_tokens a request may ask for
	DefaultMaxTokens int // max_tokens when a request gives none
	MaxPrompts       int // most prompts in one completions request
}

// Prompt is one prompt of a completions request: text, or token ids when
// the client sent ids.
type Prompt struct {
	Text  string
	IDs   []int32
	IsIDs bool
}

// CompletionRequest is a decoded, validated request of /v1/completions or
// /v1/chat/completions (Chat; its messages already rendered through the
// chat template into the one prompt).
type CompletionRequest struct {
	Model       string
	Prompts     []Prompt
	MaxTokens   int
	Temperature float64 // 0 = greedy
	TopP        float64 // in (0, 1]; 1 = off
	Stop        []string
	Seed        uint64
	HasSeed     bool
	Chat        bool
}

// maxStops is OpenAI's limit on stop sequences.
const maxStops = 4

// completionWire is the JSON of a completions request: pointers tell a
// field left out from a zero. Fields this server does not implement are
// decoded to be refused when set to anything but their default; fields it
// does not know are ignored, as OpenAI-compatible servers do.
type completionWire struct {
	Model               *string         `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            json.RawMessage `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	Seed                *int64          `json:"seed"`
	N                   *int64          `json:"n"`
	Stream              *bool           `json:"stream"`
	Echo                *bool           `json:"echo"`
	BestOf              *int64          `json:"best_of"`
	Logprobs            json.RawMessage `json:"logprobs"`
	TopLogprobs         *int64          `json:"top_logprobs"`
	Suffix              *string         `json:"suffix"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	LogitBias           map[string]any  `json:"logit_bias"`
	Tools               json.RawMessage `json:"tools"`
	ResponseFormat      json.RawMessage `json:"response_format"`
}

// decodeObject decodes one JSON object from body into v, refusing trailing
// content; unknown fields are refused when strict.
func decodeObject(body []byte, v any, strict bool) *APIError {
	if !utf8.Valid(body) {
		return invalid("", "the request body is not valid UTF-8")
	}
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return invalid("", "empty request body: send a JSON object")
	}
	if t[0] != '{' {
		return invalid("", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalid(te.Field, "field %q: want %s, got a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(f, "unknown field %q", f)
		}
		return invalid("", "malformed JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "content after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64", "uint64":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	default:
		return "a " + k
	}
}

func isNull(r json.RawMessage) bool {
	t := bytes.TrimSpace(r)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// DecodeCompletion decodes and validates the body of POST /v1/completions.
func DecodeCompletion(body []byte, lim Limits) (*CompletionRequest, *APIError) {
	var w completionWire
	if e := decodeObject(body, &w, false); e != nil {
		return nil, e
	}
	if !isNull(w.Messages) {
		return nil, invalid("messages", "/v1/completions takes a prompt; send messages to /v1/chat/completions")
	}
	req, e := w.common(lim, false)
	if e != nil {
		return nil, e
	}
	if req.Prompts, e = decodePrompt(w.Prompt, lim); e != nil {
		return nil, e
	}
	return req, nil
}

// DecodeChat decodes and validates the body of POST /v1/chat/completions
// and renders its messages through the chat template (ChatTemplate).
func DecodeChat(body []byte, lim Limits) (*CompletionRequest, *APIError) {
	var w completionWire
	if e := decodeObject(body, &w, false); e != nil {
		return nil, e
	}
	if !isNull(w.Prompt) {
		return nil, invalid("prompt", "/v1/chat/completions takes messages; send a prompt to /v1/completions")
	}
	req, e := w.common(lim, true)
	if e != nil {
		return nil, e
	}
	msgs, e := decodeMessages(w.Messages)
	if e != nil {
		return nil, e
	}
	req.Prompts = []Prompt{{Text: RenderChat(msgs)}}
	req.Stop = append(req.Stop, chatStops...)
	return req, nil
}

// common validates the fields both endpoints share.
func (w *completionWire) common(lim Limits, chat bool) (*CompletionRequest, *APIError) {
	req := &CompletionRequest{MaxTokens: lim.DefaultMaxTokens, Temperature: 1, TopP: 1, Chat: chat}
	if w.Model == nil || *w.Model == "" {
		return nil, invalid("model", "field \"model\" is required: the name GET /v1/models lists")
	}
	req.Model = *w.Model
	switch {
	case w.N != nil && *w.N != 1:
		return nil, unsupported("n", "n = %d: this server answers one choice per prompt (n = 1); send the request again with other seeds", *w.N)
	case w.Stream != nil && *w.Stream:
		return nil, unsupported("stream", "streaming is not supported: leave stream out or false")
	case w.Echo != nil && *w.Echo:
		return nil, unsupported("echo", "echo is not supported")
	case w.BestOf != nil && *w.BestOf != 1:
		return nil, unsupported("best_of", "best_of = %d: only 1 is supported", *w.BestOf)
	case !isNull(w.Logprobs) && !bytes.Equal(bytes.TrimSpace(w.Logprobs), []byte("false")):
		return nil, unsupported("logprobs", "logprobs are not supported")
	case w.TopLogprobs != nil && *w.TopLogprobs != 0:
		return nil, unsupported("top_logprobs", "top_logprobs are not supported")
	case w.Suffix != nil && *w.Suffix != "":
		return nil, unsupported("suffix", "suffix is not supported")
	case w.PresencePenalty != nil && *w.PresencePenalty != 0:
		return nil, unsupported("presence_penalty", "presence_penalty is not supported (only 0)")
	case w.FrequencyPenalty != nil && *w.FrequencyPenalty != 0:
		return nil, unsupported("frequency_penalty", "frequency_penalty is not supported (only 0)")
	case len(w.LogitBias) > 0:
		return nil, unsupported("logit_bias", "logit_bias is not supported")
	case !isNull(w.Tools) && !bytes.Equal(bytes.TrimSpace(w.Tools), []byte("[]")):
		return nil, unsupported("tools", "tools are not supported: the model has no tool-calling template")
	case !isNull(w.ResponseFormat):
		var rf struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(w.ResponseFormat, &rf) != nil || rf.Type != "text" {
			return nil, unsupported("response_format", "only response_format {\"type\": \"text\"} is supported")
		}
	}
	mt, param := w.MaxTokens, "max_tokens"
	if w.MaxCompletionTokens != nil {
		if mt != nil && *mt != *w.MaxCompletionTokens {
			return nil, invalid("max_completion_tokens", "max_tokens %d and max_completion_tokens %d disagree: give one", *mt, *w.MaxCompletionTokens)
		}
		mt, param = w.MaxCompletionTokens, "max_completion_tokens"
	}
	if mt != nil {
		if *mt < 1 || *mt > int64(lim.MaxTokens) {
			return nil, invalid(param, "%s = %d: must be in [1, %d] (this server's limit)", param, *mt, lim.MaxTokens)
		}
		req.MaxTokens = int(*mt)
	}
	if t := w.Temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 2 {
			return nil, invalid("temperature", "temperature = %v: must be in [0, 2] (0 = greedy)", *t)
		}
		req.Temperature = *t
	}
	if p := w.TopP; p != nil {
		if math.IsNaN(*p) || *p <= 0 || *p > 1 {
			return nil, invalid("top_p", "top_p = %v: must be in (0, 1]", *p)
		}
		req.TopP = *p
	}
	if w.Seed != nil {
		req.Seed, req.HasSeed = uint64(*w.Seed), true
	}
	stops, e := decodeStop(w.Stop)
	if e != nil {
		return nil, e
	}
	req.Stop = stops
	return req, nil
}

func decodeStop(raw json.RawMessage) ([]string, *APIError) {
	if isNull(raw) {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, invalid("stop", "stop is an empty string")
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("stop", "stop: want a string or an array of up to %d strings", maxStops)
	}
	if len(many) > maxStops {
		return nil, invalid("stop", "stop has %d sequences: at most %d", len(many), maxStops)
	}
	for i, s := range many {
		if s == "" {
			return nil, invalid("stop", "stop[%d] is an empty string", i)
		}
	}
	return many, nil
}

// decodePrompt reads OpenAI's four prompt forms: a string, an array of
// strings, an array of token ids, an array of arrays of token ids.
func decodePrompt(raw json.RawMessage, lim Limits) ([]Prompt, *APIError) {
	if isNull(raw) {
		return nil, invalid("prompt", "field \"prompt\" is required: a string, an array of strings, or token ids")
	}
	var out []Prompt
	var one string
	var texts []string
	var ids []int64
	var idLists [][]int64
	switch {
	case json.Unmarshal(raw, &one) == nil:
		out = []Prompt{{Text: one}}
	case json.Unmarshal(raw, &texts) == nil && len(texts) > 0:
		for _, t := range texts {
			out = append(out, Prompt{Text: t})
		}
	case json.Unmarshal(raw, &ids) == nil && len(ids) > 0:
		p, e := promptIDs(ids, "prompt")
		if e != nil {
			return nil, e
		}
		out = []Prompt{p}
	case json.Unmarshal(raw, &idLists) == nil && len(idLists) > 0:
		for i, l := range idLists {
			p, e := promptIDs(l, fmt.Sprintf("prompt[%d]", i))
			if e != nil {
				return nil, e
			}
			out = append(out, p)
		}
	default:
		return nil, invalid("prompt", "prompt: want a string, a non-empty array of strings, an array of token ids or an array of arrays of token ids")
	}
	if len(out) > lim.MaxPrompts {
		return nil, invalid("prompt", "%d prompts: at most %d a request", len(out), lim.MaxPrompts)
	}
	return out, nil
}

func promptIDs(ids []int64, param string) (Prompt, *APIError) {
	out := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id > math.MaxInt32 {
			return Prompt{}, invalid("prompt", "%s[%d] = %d is not a token id", param, i, id)
		}
		out[i] = int32(id)
	}
	return Prompt{IDs: out, IsIDs: true}, nil
}

// Message is one chat message.
type Message struct {
	Role    string
	Content string
}

var chatRoles = map[string]string{"system": "System", "developer": "System", "user": "User", "assistant": "Assistant"}

// chatStops end an assistant turn: a plain language model would go on to
// write the user's next turn.
var chatStops = []string{"\nUser:"}

// RenderChat is the chat template: the model has none of its own (an
// Optimum export carries no chat template this server reads), so messages
// are written as
//
//	System: …\nUser: …\nAssistant: …\nAssistant:
//
// (developer messages as System), and the generation continues the last
// line. A generation stops at "\nUser:" as well as at the request's stops.
func RenderChat(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(chatRoles[m.Role])
		b.WriteString(": ")
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	b.WriteString("Assistant:")
	return b.String()
}

func decodeMessages(raw json.RawMessage) ([]Message, *APIError) {
	if isNull(raw) {
		return nil, invalid("messages", "field \"messages\" is required: an array of {\"role\", \"content\"}")
	}
	var wire []struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil || len(wire) == 0 {
		return nil, invalid("messages", "messages: want a non-empty array of {\"role\", \"content\"} objects")
	}
	out := make([]Message, len(wire))
	for i, m := range wire {
		param := fmt.Sprintf("messages[%d]", i)
		if m.Role == nil {
			return nil, invalid(param+".role", "%s has no role", param)
		}
		if _, ok := chatRoles[*m.Role]; !ok {
			return nil, unsupported(param+".role", "%s: role %q is not supported (system, developer, user, assistant)", param, *m.Role)
		}
		text, e := messageText(m.Content, param+".content")
		if e != nil {
			return nil, e
		}
		out[i] = Message{Role: *m.Role, Content: text}
	}
	return out, nil
}

// messageText reads a message's content: a string, or an array of
// {"type": "text", "text": …} parts (joined).
func messageText(raw json.RawMessage, param string) (string, *APIError) {
	if isNull(raw) {
		return "", invalid(param, "%s is missing", param)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", invalid(param, "%s: want a string or an array of text parts", param)
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", unsupported(param, "%s[%d]: only parts of type \"text\" are supported, got %q", param, j, p.Type)
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}
