package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/internal/ort"
)

// doctorCommand reports which ONNX Runtime library promptgan would use and
// what it can do: path, version, execution providers, whether CUDA works.
// ortLibUsage is the help text of every --ort-lib flag. (No backquotes: the
// CLI library would take a quoted word for the flag's placeholder.)
const ortLibUsage = "ONNX Runtime shared library (file or directory); default $" + ort.EnvLibrary + ", then the cache that make setup fills"

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "show the ONNX Runtime library promptgan uses: path, version, providers, whether CUDA works",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		OnUsageError: onUsage,
		Action:       doctorAction,
	}
}

func doctorAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("doctor takes no arguments, got %q", c.Args().Slice())
	}
	r, err := ort.Doctor(c.String("ort-lib"))
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, r)
	}
	fmt.Fprintf(w, "library    %s (found by %s)\n", r.Library, r.Source)
	fmt.Fprintf(w, "version    %s\n", r.Version)
	fmt.Fprintf(w, "providers  %s (compiled in; a provider may still need its own libraries)\n", strings.Join(r.Providers, ", "))
	if r.CUDA {
		fmt.Fprintln(w, "cuda       yes (a test model ran on the CUDA execution provider)")
	} else {
		fmt.Fprintf(w, "cuda       no: %s\n", r.CUDAReason)
	}
	return nil
}
