package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"promptgan/targets/backend"
)

// maxBody bounds a response body read into memory.
const maxBody = 32 << 20

// failure is why an attempt failed and whether to try again.
type failure struct {
	err           error
	retry         bool
	retryAfter    time.Duration
	hasRetryAfter bool
}

// exchange is what one HTTP attempt saw, captured by a middleware before
// the SDK decodes it: the SDK reports neither a body cut off mid-way nor a
// non-JSON error body in a way that tells them apart.
type exchange struct {
	status  int
	header  http.Header
	body    []byte
	readErr error
}

func (x *exchange) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res == nil {
		return res, err
	}
	x.status, x.header = res.StatusCode, res.Header
	x.body, x.readErr = io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	res.Body.Close()
	if x.readErr == nil && len(x.body) > maxBody {
		x.readErr = fmt.Errorf("response body over %d bytes", maxBody)
	}
	if x.readErr != nil {
		return nil, x.readErr
	}
	res.Body = io.NopCloser(bytes.NewReader(x.body))
	return res, nil
}

// attempt makes one HTTP call with the per-call timeout.
func (m *Model) attempt(ctx context.Context, text string, seed uint64) (backend.Generation, *failure) {
	m.attempts.Add(1)
	actx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	var x exchange
	mw := option.WithMiddleware(x.middleware)
	temp, topP := 1.0, 1.0
	if m.opts.Temperature != nil {
		temp = *m.opts.Temperature
	}
	if m.opts.TopP != nil {
		topP = *m.opts.TopP
	}
	var (
		out          string
		finish       string
		usage        backend.Usage
		nChoices     int
		err          error
		validPayload bool
	)
	if m.opts.Endpoint == EndpointChat {
		p := sdk.ChatCompletionNewParams{
			Model:       m.opts.Model,
			Messages:    []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage(text)},
			MaxTokens:   sdk.Int(int64(m.opts.MaxTokens)),
			Temperature: sdk.Float(temp),
			TopP:        sdk.Float(topP),
			Seed:        sdk.Int(seedOf(seed, m.opts.SeedBits)),
		}
		if len(m.opts.Stop) > 0 {
			p.Stop = sdk.ChatCompletionNewParamsStopUnion{OfStringArray: m.opts.Stop}
		}
		var r *sdk.ChatCompletion
		if r, err = m.client.Chat.Completions.New(actx, p, mw); err == nil {
			nChoices = len(r.Choices)
			validPayload = r.JSON.Choices.Valid()
			if nChoices > 0 {
				out, finish = r.Choices[0].Message.Content, r.Choices[0].FinishReason
			}
			usage = backend.Usage{PromptTokens: int(r.Usage.PromptTokens), CompletionTokens: int(r.Usage.CompletionTokens)}
		}
	} else {
		p := sdk.CompletionNewParams{
			Model:       sdk.CompletionNewParamsModel(m.opts.Model),
			Prompt:      sdk.CompletionNewParamsPromptUnion{OfString: sdk.String(text)},
			MaxTokens:   sdk.Int(int64(m.opts.MaxTokens)),
			Temperature: sdk.Float(temp),
			TopP:        sdk.Float(topP),
			Seed:        sdk.Int(seedOf(seed, m.opts.SeedBits)),
		}
		if len(m.opts.Stop) > 0 {
			p.Stop = sdk.CompletionNewParamsStopUnion{OfStringArray: m.opts.Stop}
		}
		var r *sdk.Completion
		if r, err = m.client.Completions.New(actx, p, mw); err == nil {
			nChoices = len(r.Choices)
			validPayload = r.JSON.Choices.Valid()
			if nChoices > 0 {
				out, finish = r.Choices[0].Text, string(r.Choices[0].FinishReason)
			}
			usage = backend.Usage{PromptTokens: int(r.Usage.PromptTokens), CompletionTokens: int(r.Usage.CompletionTokens)}
		}
	}
	if err != nil {
		return backend.Generation{}, m.classify(ctx, actx, &x, err)
	}
	if !validPayload || nChoices == 0 {
		return backend.Generation{}, &failure{err: fmt.Errorf("%s answered JSON without choices (%s): not an OpenAI-compatible %s endpoint", m.endpointURL(), snippet(x.body), m.opts.Endpoint)}
	}
	ids := make([]int32, 0, len(out)+1)
	for i := range len(out) {
		ids = append(ids, int32(out[i]))
	}
	if finish == "stop" {
		ids = append(ids, EndID)
	}
	return backend.Generation{Tokens: ids, Usage: usage}, nil
}

// classify turns a failed attempt into a failure.
func (m *Model) classify(ctx, actx context.Context, x *exchange, err error) *failure {
	where := m.endpointURL()
	switch {
	case ctx.Err() != nil:
		return &failure{err: context.Cause(ctx)}
	case x.readErr != nil:
		return &failure{err: fmt.Errorf("%s: response body cut off: %v", where, x.readErr), retry: true}
	case x.status == 0 && actx.Err() != nil:
		return &failure{err: fmt.Errorf("%s: no answer within the per-call timeout of %s", where, m.opts.Timeout), retry: true}
	case x.status == 0:
		return &failure{err: fmt.Errorf("cannot reach %s: %v", where, rootCause(err)), retry: true}
	case x.status >= 400:
		f := &failure{err: fmt.Errorf("%s: HTTP %d %s: %s", where, x.status, http.StatusText(x.status), serverMessage(x.body))}
		switch x.status {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
			f.retry = true
		default:
			f.retry = x.status >= 500
		}
		if f.retry {
			f.retryAfter, f.hasRetryAfter = parseRetryAfter(x.header, time.Now())
		}
		return f
	}
	ct, _, _ := mime.ParseMediaType(x.header.Get("Content-Type"))
	if !strings.Contains(ct, "json") {
		return &failure{err: fmt.Errorf("%s answered %q, not JSON (%s): not an OpenAI-compatible server; check --base-url (it usually ends in /v1)", where, ct, snippet(x.body))}
	}
	// JSON that does not parse: a body damaged on the way, worth another try
	return &failure{err: fmt.Errorf("%s: malformed JSON (%s): %v", where, snippet(x.body), rootCause(err)), retry: true}
}

func (m *Model) endpointURL() string {
	p := "/completions"
	if m.opts.Endpoint == EndpointChat {
		p = "/chat/completions"
	}
	return strings.TrimRight(m.opts.BaseURL, "/") + p
}

// backoff is the wait before retry attempt+1: the server's Retry-After
// (capped) when it sent one, else exponential backoff with full jitter
// (uniform in [d/2, d]), so that concurrent callers do not retry in step.
func (m *Model) backoff(attempt int, retryAfter time.Duration, has bool) time.Duration {
	if has {
		return min(max(retryAfter, 0), m.opts.MaxRetryAfter)
	}
	d := m.opts.Backoff
	for range attempt {
		d *= 2
		if d >= m.opts.MaxBackoff {
			d = m.opts.MaxBackoff
			break
		}
	}
	// jitter needs no reproducibility: math/rand/v2's shared source is safe
	// for concurrent use and seeded by the runtime
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP-date.
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < 1e9 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// serverMessage is the message of an error body: OpenAI's
// {"error": {"message": …}}, {"error": "…"}, {"message": …}, or the start of the text.
func serverMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &inner) == nil && inner.Message != "":
			return oneLine(inner.Message)
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			return oneLine(s)
		case v.Message != "":
			return oneLine(v.Message)
		case v.Detail != "":
			return oneLine(v.Detail)
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "(empty body)"
	}
	return snippet(body)
}

// snippet is the start of a body, on one line.
func snippet(b []byte) string {
	s := oneLine(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strconv.Quote(s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// rootCause strips the SDK's and net/http's wrapping down to the innermost
// error's text ("connection refused", "unexpected EOF").
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// Check asks the server which models it serves (GET /models), so that an
// unreachable URL, a refused key or a wrong model name fails before a run
// starts, in one line. A server without the list endpoint (404/405) is
// taken on trust: the first call will tell. Check does not retry.
func (m *Model) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	var x exchange
	where := strings.TrimRight(m.opts.BaseURL, "/") + "/models"
	page, err := m.client.Models.List(ctx, option.WithMiddleware(x.middleware))
	if err != nil {
		switch {
		case x.status == 404 || x.status == 405:
			return nil
		case x.status == 401 || x.status == 403:
			return fmt.Errorf("%s: HTTP %d %s: %s (the key in %s was refused)", where, x.status, http.StatusText(x.status), serverMessage(x.body), m.opts.APIKeyEnv)
		case x.status >= 400:
			return fmt.Errorf("%s: HTTP %d %s: %s", where, x.status, http.StatusText(x.status), serverMessage(x.body))
		case x.status == 0 && x.readErr == nil && ctx.Err() != nil:
			return fmt.Errorf("cannot reach %s: no answer within %s", where, m.opts.Timeout)
		case x.status == 0 && x.readErr == nil:
			return fmt.Errorf("cannot reach %s: %s", where, rootCause(err))
		}
		return fmt.Errorf("%s answered %s: not an OpenAI-compatible server; check --base-url (it usually ends in /v1)", where, snippet(x.body))
	}
	if !page.JSON.Data.Valid() {
		return fmt.Errorf("%s answered %s: not an OpenAI-compatible server; check --base-url (it usually ends in /v1)", where, snippet(x.body))
	}
	var names []string
	for _, d := range page.Data {
		if d.ID == m.opts.Model {
			return nil
		}
		names = append(names, d.ID)
	}
	if len(names) > 8 {
		names = append(names[:8], "…")
	}
	served := "no models"
	if len(names) > 0 {
		served = strings.Join(names, ", ")
	}
	return fmt.Errorf("model %q is not served by %s (it serves %s): check the name in --target openai:MODEL", m.opts.Model, m.opts.BaseURL, served)
}
