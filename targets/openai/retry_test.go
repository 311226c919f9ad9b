package openai

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"Tue, 01 Dec 2026 12:00:07 GMT", 7 * time.Second, true},
		{"Tue, 01 Dec 2026 11:59:00 GMT", 0, true}, // in the past: at once
		{"-1", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := parseRetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q = %s, %v; want %s, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// TestBackoff: exponential, capped, jittered within [d/2, d]; a server's
// Retry-After is taken as given up to MaxRetryAfter.
func TestBackoff(t *testing.T) {
	m := &Model{opts: Options{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 10 * time.Second}}
	for attempt, d := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		d *= time.Millisecond
		for range 50 {
			if got := m.backoff(attempt, 0, false); got < d/2 || got > d {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, got, d/2, d)
			}
		}
	}
	if got := m.backoff(0, 3*time.Second, true); got != 3*time.Second {
		t.Errorf("Retry-After 3s: waits %s", got)
	}
	if got := m.backoff(0, time.Hour, true); got != 10*time.Second {
		t.Errorf("Retry-After 1h: waits %s, want the cap 10s", got)
	}
}
