// Command promptgan trains adversarial prompt generators, evaluates and
// inspects their checkpoints, and runs promptgan's benchmarks.
package main

import (
	"errors"
	"fmt"
	"os"

	"promptgan/search"
)

func main() {
	err := newApp().Run(os.Args)
	os.Exit(exitCode(err))
}

// exitCode maps an error to the process status: 0 ok, 2 usage, 130/143
// interrupted by SIGINT/SIGTERM (after checkpointing), 1 any other failure.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ue usageError
	var ie interruptedError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "promptgan: %v\n", err)
		return 2
	case errors.As(err, &ie):
		fmt.Fprintf(os.Stderr, "promptgan: %v\n", err)
		return ie.code
	case errors.Is(err, search.ErrInterrupted):
		return 130
	default:
		fmt.Fprintf(os.Stderr, "promptgan: %v\n", err)
		return 1
	}
}

// usageError marks a mistake in how the command was called (exit status 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// interruptedError reports a run stopped by a signal, after its checkpoint was saved.
type interruptedError struct {
	error
	code int
}
