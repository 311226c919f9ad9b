// Package interrupt turns a command's first SIGINT or SIGTERM into a
// cancelled context, so that the work in hand ends cleanly (a run
// checkpoints, a server drains its requests), and leaves the second one to
// kill the process at once, as the default handler does.
package interrupt

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Context returns a context that is cancelled on the first SIGINT or
// SIGTERM, after message is written on its own line to w; stop releases
// the signals (call it when the work is done), and got returns the signal
// received (nil before one).
func Context(parent context.Context, w io.Writer, message string) (ctx context.Context, stop func(), got func() os.Signal) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var (
		mu  sync.Mutex // got may be called while the signal arrives
		sig os.Signal
	)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			mu.Lock()
			sig = s
			mu.Unlock()
			fmt.Fprintln(w, "\n"+message)
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel()
		case <-done:
		}
	}()
	stop = func() {
		close(done)
		signal.Stop(ch)
		cancel()
	}
	return ctx, stop, func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return sig
	}
}
