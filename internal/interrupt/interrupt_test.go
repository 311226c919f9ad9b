package interrupt

import (
	"bytes"
	"context"
	"sync"
	"syscall"
	"testing"
	"time"
)

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

// TestContext: the first SIGTERM cancels the context and says the message;
// before it, nothing is said and no signal is reported.
func TestContext(t *testing.T) {
	var w syncBuffer
	ctx, stop, got := Context(context.Background(), &w, "stopping")
	defer stop()
	if got() != nil || ctx.Err() != nil || w.String() != "" {
		t.Fatalf("before a signal: got %v, ctx %v, wrote %q", got(), ctx.Err(), w.String())
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	if got() != syscall.SIGTERM || w.String() != "\nstopping\n" {
		t.Errorf("after SIGTERM: got %v, wrote %q", got(), w.String())
	}
}
