package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// APIError is an error in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}, with the HTTP status it
// is answered with.
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param"` // the request field at fault; "" = null
	Code    string `json:"code"`  // a machine-readable reason; "" = null
}

func (e *APIError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%d %s: %s (field %s)", e.Status, e.Type, e.Message, e.Param)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// MarshalJSON writes the envelope, with null for an empty param or code
// as OpenAI does.
func (e *APIError) MarshalJSON() ([]byte, error) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		b.Param = &e.Param
	}
	if e.Code != "" {
		b.Code = &e.Code
	}
	return json.Marshal(struct {
		Error body `json:"error"`
	}{b})
}

// invalid is a 400 invalid_request_error naming the field at fault.
func invalid(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Code: "invalid_value", Message: fmt.Sprintf(format, args...)}
}

// unsupported is a 400 for a field this server does not implement.
func unsupported(param, format string, args ...any) *APIError {
	e := invalid(param, format, args...)
	e.Code = "unsupported_parameter"
	return e
}

func writeError(w http.ResponseWriter, e *APIError) {
	b, _ := e.MarshalJSON()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(append(b, '\n'))
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &APIError{Status: http.StatusInternalServerError, Type: "server_error", Code: "encode", Message: fmt.Sprintf("encode the response: %v", err)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(append(b, '\n'))
}
