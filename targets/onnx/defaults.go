package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PromptFormatFile is promptgan's own file beside a completion model: the
// template (task/template.go syntax: {prompt}, {input}) its prompts are
// read in, e.g. {"template": "{prompt} =>"} for the English LM, which
// reads an instruction followed by "=>". Hugging Face keeps a chat model's
// format in tokenizer_config.json's chat_template (Jinja), which promptgan
// does not read.
const PromptFormatFile = "promptgan.json"

// Defaults are the settings a model directory recommends for generating
// with it: generation_config.json's temperature, top_p and max_new_tokens
// (where Hugging Face keeps them) and promptgan.json's template. Zero
// values are "not given".
type Defaults struct {
	Temperature  float64
	TopP         float64
	MaxNewTokens int
	Template     string
	// From names the file of each given setting ("temperature" →
	// "generation_config.json").
	From map[string]string
}

// ReadDefaults reads the recommended settings of the model in dir; absent
// files and fields give zero values, malformed ones an error naming the
// file and field. A generation_config.json with do_sample: false asks for
// greedy decoding, which prompt search does not use (it needs distinct
// continuations of a prompt): its temperature and top_p are then not taken.
func ReadDefaults(dir string) (Defaults, error) {
	d := Defaults{From: map[string]string{}}
	g, _, err := readObject(filepath.Join(dir, GenerationConfigFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Defaults{}, err
	default:
		sample, given, err := g.boolean("do_sample")
		if err != nil {
			return Defaults{}, err
		}
		if !given || sample {
			if d.Temperature, err = g.number("temperature", 0, 10); err != nil {
				return Defaults{}, err
			}
			if d.TopP, err = g.number("top_p", 0, 1); err != nil {
				return Defaults{}, err
			}
		}
		n, _, err := g.count("max_new_tokens", true)
		if err != nil {
			return Defaults{}, err
		}
		d.MaxNewTokens = n
		for name, set := range map[string]bool{"temperature": d.Temperature > 0, "top_p": d.TopP > 0, "max_new_tokens": d.MaxNewTokens > 0} {
			if set {
				d.From[name] = GenerationConfigFile
			}
		}
	}
	p, _, err := readObject(filepath.Join(dir, PromptFormatFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Defaults{}, err
	default:
		if d.Template, err = p.str("template"); err != nil {
			return Defaults{}, err
		}
		if d.Template != "" && !strings.Contains(d.Template, "{prompt}") {
			return Defaults{}, fmt.Errorf("%s: field template: %q has no {prompt}", p.file, d.Template)
		}
		if d.Template != "" {
			d.From["template"] = PromptFormatFile
		}
	}
	return d, nil
}

// number reads a number field in (lo, hi]; 0 when absent or null.
func (f fields) number(name string, lo, hi float64) (float64, error) {
	if !f.has(name) {
		return 0, nil
	}
	var x float64
	if err := json.Unmarshal(f.m[name], &x); err != nil || !(x > lo && x <= hi) {
		return 0, fmt.Errorf("%s: field %s: want a number in (%g, %g], got %s", f.file, name, lo, hi, f.m[name])
	}
	return x, nil
}
