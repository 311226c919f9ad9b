package main

import (
	"github.com/urfave/cli/v2"
	"promptgan/search"

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
		Action: doctorAction,
	}
}

func doctorAction(c *cli.Context) error {
	r, err := ort.Doctor(c.String("ort-lib"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return search.WriteJSON(c.App.Writer, r)
	}
	r.Write(c.App.Writer)
	return nil
}
