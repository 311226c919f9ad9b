package main

import (
	"flag"
	"io"

	"github.com/urfave/cli/v2"
)

// positional returns the command's positional arguments, applying any flags
// written after them: urfave/cli v2 stops parsing flags at the first
// argument, but `promptgan resume DIR --steps N` is the documented form.
func positional(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
	if len(args) < 2 {
		return args, nil
	}
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
	}
	var out []string
	rest := args
	for len(rest) > 0 {
		if err := set.Parse(rest); err != nil {
			return nil, usageError{err}
		}
		rest = set.Args()
		if len(rest) > 0 {
			out = append(out, rest[0])
			rest = rest[1:]
		}
	}
	var err error
	set.Visit(func(f *flag.Flag) {
		if e := c.Set(f.Name, f.Value.String()); e != nil && err == nil {
			err = usageError{e}
		}
	})
	return out, err
}

// oneArg returns the command's single positional argument.
func oneArg(c *cli.Context, what string) (string, error) {
	args, err := positional(c)
	if err != nil {
		return "", err
	}
	if len(args) != 1 {
		return "", usagef("%s needs exactly one %s, got %d arguments", c.Command.Name, what, len(args))
	}
	return args[0], nil
}
