// Command promptgan trains adversarial prompt generators, evaluates and
// inspects their checkpoints, and runs promptgan's benchmarks.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/search"
)

func main() {
	os.Exit(runMain(os.Args, os.Stdout, os.Stderr))
}

// runMain runs the command line args and returns the process status,
// writing the error, if any, to stderr.
func runMain(args []string, stdout, stderr io.Writer) int {
	app := newApp()
	app.Writer, app.ErrWriter = stdout, stderr
	return report(stderr, app.Run(args))
}

// routeExits makes every way urfave/cli can fail come back as an error from
// app.Run, so that exitCode alone decides the status:
//   - urfave/cli calls os.Exit itself for an error that carries an exit code,
//     bypassing exitCode: `promptgan bogus` ran the help command, whose "No
//     help topic for 'bogus'" carries code 3. The handler is a no-op here.
//   - an unknown command or benchmark name is a usage error naming the
//     choices (a command with subcommands and no action fell back to help);
//   - a bad flag of a command without its own OnUsageError (`bench --x`)
//     printed help and failed with status 1; it is a usage error too;
//   - a command that takes no arguments refuses them: `bench steer-oracle
//     extra` ran the whole benchmark, and `bench decode extra --model DIR`
//     silently ignored the flag written after the stray argument.
func routeExits(app *cli.App) {
	app.ExitErrHandler = func(*cli.Context, error) {}
	if app.Action == nil {
		app.Action = func(c *cli.Context) error {
			if !c.Args().Present() {
				return cli.ShowAppHelp(c) // bare `promptgan`: the help, status 0
			}
			return usagef("unknown command %q; the commands are %s (promptgan --help)", c.Args().First(), commandNames(app.Commands))
		}
	}
	var walk func(parent string, cmds []*cli.Command)
	walk = func(parent string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			if cmd.OnUsageError == nil {
				cmd.OnUsageError = onUsage
			}
			path := strings.TrimSpace(parent + " " + cmd.Name)
			if len(cmd.Subcommands) == 0 {
				if act := cmd.Action; act != nil && strings.TrimSpace(cmd.ArgsUsage) == "" {
					cmd.Action = func(c *cli.Context) error {
						if c.Args().Present() {
							return usagef("%s takes no arguments (got %q); use flags (promptgan %s --help)", path, c.Args().Slice(), path)
						}
						return act(c)
					}
				}
				continue
			}
			if cmd.Action == nil {
				subs := cmd.Subcommands
				cmd.Action = func(c *cli.Context) error {
					if !c.Args().Present() {
						_ = cli.ShowSubcommandHelp(c)
						return usagef("%s needs a command: one of %s", path, commandNames(subs))
					}
					return usagef("unknown %s command %q; the choices are %s (promptgan %s --help)", path, c.Args().First(), commandNames(subs), path)
				}
			}
			walk(path, cmd.Subcommands)
		}
	}
	walk("", app.Commands)
}

// commandNames lists the names of cmds, help excluded.
func commandNames(cmds []*cli.Command) string {
	var names []string
	for _, c := range cmds {
		if c.Name != "help" && !c.Hidden {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ", ")
}

// exitCode maps an error to the process status, writing it to stderr.
func exitCode(err error) int { return report(os.Stderr, err) }

// report maps an error to the process status: 0 ok, 2 usage (a bad config
// or one a checkpoint cannot resume with included), 130/143 interrupted by
// SIGINT/SIGTERM (after checkpointing), 1 any other failure; every error but
// a plain interruption is written to w.
func report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ue usageError
	var ie interruptedError
	var ce cli.ExitCoder
	code := 1
	switch {
	case errors.As(err, &ue), errors.Is(err, search.ErrBadConfig), errors.Is(err, search.ErrArchitectureChanged):
		code = 2
	case errors.As(err, &ie):
		code = ie.code
	case errors.Is(err, search.ErrInterrupted):
		return 130
	case errors.As(err, &ce):
		// Only urfave/cli makes these (promptgan's own errors carry no
		// code), for a mistake on the command line: `promptgan help bogus`.
		code = 2
	}
	fmt.Fprintf(w, "promptgan: %v\n", err)
	return code
}

// usageError marks a mistake in how the command was called (exit status 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// interruptedError reports a run stopped by a signal, after its checkpoint was saved.
type interruptedError struct {
	error
	code int
}
