package task

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Template says how a prompt and an input are joined into the text the
// target reads. It is text with placeholders:
//
//	{prompt}  the prompt being searched for (required, may repeat)
//	{input}   the task's input (required for a task with inputs, refused
//	          for an input-free one)
//	{{ }}     a literal { or }
//
// Any other use of a brace is refused, so a mistyped placeholder ({promt})
// is an error rather than text sent to the target.
type Template struct {
	source string
	parts  []templatePart
}

type templatePart struct {
	literal string
	slot    templateSlot // after literal; slotNone for the last part
}

type templateSlot int

const (
	slotNone templateSlot = iota
	slotPrompt
	slotInput
)

// DefaultTemplate is the template used when none is given: the prompt alone
// for an input-free task; for a task with inputs, the input, a newline, then
// the prompt, so the prompt sits last, next to where the target continues,
// where it steers most.
func DefaultTemplate(inputFree bool) string {
	if inputFree {
		return "{prompt}"
	}
	return "{input}\n{prompt}"
}

// ParseTemplate parses a template; see Template for the syntax.
func ParseTemplate(s string) (Template, error) {
	t := Template{source: s}
	if !utf8.ValidString(s) {
		at, _ := invalidUTF8([]byte(s))
		return t, fmt.Errorf("template: byte %d is not valid UTF-8", at+1)
	}
	var lit strings.Builder
	hasPrompt := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == '{' || c == '}') && i+1 < len(s) && s[i+1] == c:
			lit.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return t, fmt.Errorf("template %q: the { at byte %d is not closed; placeholders are {prompt} and {input}, and {{ writes a literal {", s, i+1)
			}
			name := s[i+1 : i+end]
			var slot templateSlot
			switch name {
			case "prompt":
				slot, hasPrompt = slotPrompt, true
			case "input":
				slot = slotInput
			default:
				return t, fmt.Errorf("template %q: unknown placeholder {%s} at byte %d; the placeholders are {prompt} and {input} (write {{ and }} for literal braces)", s, name, i+1)
			}
			t.parts = append(t.parts, templatePart{literal: lit.String(), slot: slot})
			lit.Reset()
			i += end
		case c == '}':
			return t, fmt.Errorf("template %q: the } at byte %d closes nothing; write }} for a literal }", s, i+1)
		default:
			lit.WriteByte(c)
		}
	}
	t.parts = append(t.parts, templatePart{literal: lit.String()})
	if !hasPrompt {
		return t, fmt.Errorf("template %q has no {prompt}; put {prompt} where the prompt goes, e.g. %q (input-free tasks) or %q (tasks with inputs)", s, DefaultTemplate(true), DefaultTemplate(false))
	}
	return t, nil
}

// String returns the template as written.
func (t Template) String() string { return t.source }

// HasInput reports whether the template has an {input} placeholder.
func (t Template) HasInput() bool {
	for _, p := range t.parts {
		if p.slot == slotInput {
			return true
		}
	}
	return false
}

// Fill returns the template with its placeholders replaced.
func (t Template) Fill(prompt, input string) string {
	var b strings.Builder
	for _, p := range t.parts {
		b.WriteString(p.literal)
		switch p.slot {
		case slotPrompt:
			b.WriteString(prompt)
		case slotInput:
			b.WriteString(input)
		}
	}
	return b.String()
}

// Check tells whether the template suits the task: a task with inputs needs
// {input}, and an input-free task must not have it (there is nothing to put
// there).
func (t Template) Check(task *Text) error {
	switch {
	case !task.InputFree && !t.HasInput():
		return fmt.Errorf("template %q has no {input}, but task %s has inputs; put {input} where each input goes, e.g. %q", t.source, task.Path, DefaultTemplate(false))
	case task.InputFree && t.HasInput():
		return fmt.Errorf("template %q uses {input}, but task %s is input-free ({\"text\", \"label\"} lines); remove {input}, e.g. %q", t.source, task.Path, DefaultTemplate(true))
	}
	return nil
}
