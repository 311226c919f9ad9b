package task

import (
	"strings"
	"testing"
)

func TestTemplateFill(t *testing.T) {
	for _, tc := range []struct {
		template, prompt, input string
		want                    string
		hasInput                bool
	}{
		{"{prompt}", "be kind", "", "be kind", false},
		{DefaultTemplate(false), "answer:", "2+2", "2+2\nanswer:", true},
		{"Q: {input}\nA ({prompt}) {prompt}", "p", "i", "Q: i\nA (p) p", true},
		{"{{literal}} {prompt} }}{{", "p", "", "{literal} p }{", false},
		{"{{prompt}} {prompt}", "p", "", "{prompt} p", false},
		{"{prompt}{input}", "{input}", "{prompt}", "{input}{prompt}", true}, // filled values are not re-expanded
		{"é {prompt} ☕", "p", "", "é p ☕", false},
	} {
		t.Run(tc.template, func(t *testing.T) {
			tpl, err := ParseTemplate(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			if got := tpl.Fill(tc.prompt, tc.input); got != tc.want {
				t.Errorf("Fill = %q, want %q", got, tc.want)
			}
			if tpl.HasInput() != tc.hasInput {
				t.Errorf("HasInput = %v", tpl.HasInput())
			}
			if tpl.String() != tc.template {
				t.Errorf("String = %q", tpl.String())
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	for _, tc := range []struct {
		template string
		want     []string
	}{
		{"", []string{"has no {prompt}"}},
		{"{input} only", []string{"has no {prompt}"}},
		{"{promt} {input}", []string{"unknown placeholder {promt} at byte 1", "{prompt} and {input}", "{{"}},
		{"{prompt} {Input}", []string{"unknown placeholder {Input} at byte 10"}},
		{"{prompt} {", []string{"{ at byte 10 is not closed"}},
		{"{prompt} }", []string{"} at byte 10 closes nothing", "}}"}},
		{"{prompt} \xff", []string{"byte 10 is not valid UTF-8"}},
		{`{"role": "user"} {prompt}`, []string{`unknown placeholder {"role": "user"}`}},
	} {
		t.Run(tc.template, func(t *testing.T) {
			_, err := ParseTemplate(tc.template)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestTemplateCheck(t *testing.T) {
	withInputs := parse(t, `{"input": "q", "good": ["a"]}`)
	inputFree := parse(t, `{"text": "a", "label": "good"}`)
	for _, tc := range []struct {
		template string
		task     *Text
		want     string // "" = fits
	}{
		{DefaultTemplate(false), withInputs, ""},
		{DefaultTemplate(true), inputFree, ""},
		{"{prompt}", withInputs, "has no {input}, but task t.jsonl has inputs"},
		{"{input} {prompt}", inputFree, "uses {input}, but task t.jsonl is input-free"},
	} {
		t.Run(tc.template, func(t *testing.T) {
			tpl, err := ParseTemplate(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			err = tpl.Check(tc.task)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
