package search

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeConfigYAML applies YAML b on top of c. yaml.v3's own errors speak of
// Go types ("cannot unmarshal !!seq into search.Config", "field x not found
// in type generator.Config") and name the wrong line for a tab; every error
// here is reworded to name the line, the key and what the key takes.
func decodeConfigYAML(b []byte, c Config) (Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // an empty file changes nothing
		}
		return Config{}, yamlSyntaxError(err, b)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return Config{}, fmt.Errorf("line %d: a second YAML document (after ---); a config file holds one", line)
	case !errors.Is(err, io.EOF):
		return Config{}, yamlSyntaxError(err, b)
	}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return c, nil // "~" or "null": no keys
	}
	if root.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("line %d: want a mapping of config keys (one \"key: value\" a line, e.g. \"steps: 1000\"), got %s", root.Line, nodeKind(root))
	}
	// yaml.v3 truncates a fractional number into an integer field
	// (batch_size: 2.5 becomes 2); refuse it instead.
	if f, ok := findKey(root, reflect.TypeFor[Config](), "", func(_, v *yaml.Node, t reflect.Type) bool {
		return isInteger(t) && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!float" && !isWhole(v.Value)
	}); ok {
		return Config{}, fmt.Errorf("line %d: %s: want %s, got %s", f.value.Line, f.path, want(f.typ, f.path), got(f.value, f.typ))
	}
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(&c); err != nil {
		return Config{}, yamlDecodeError(err, root)
	}
	return c, nil
}

var (
	yamlLineRE     = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	notFoundRE     = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	cannotDecodeRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into \\S+$")
)

// yamlSyntaxError rewords a parse error. For a tab in the indentation
// yaml.v3 reports the line where the enclosing mapping starts, not the line
// with the tab (e.g. line 4 for a tab on line 5 under "generator:"), so the
// tab is looked for from the reported line on.
func yamlSyntaxError(err error, b []byte) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	if strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token") {
		if tab := indentTabLine(b, line); tab > 0 {
			return fmt.Errorf("line %d: a tab in the indentation; YAML indents with spaces: replace the tab with spaces", tab)
		}
	}
	return fmt.Errorf("line %d: not valid YAML: %s", line, msg)
}

// indentTabLine returns the first line, from line from on (1-based), whose
// indentation holds a tab, or 0.
func indentTabLine(b []byte, from int) int {
	for i, l := range bytes.Split(b, []byte("\n")) {
		if i+1 < from {
			continue
		}
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return i + 1
		}
	}
	return 0
}

// yamlDecodeError rewords the errors of decoding the mapping root into a
// Config: unknown keys and values of the wrong type, each with its line.
func yamlDecodeError(err error, root *yaml.Node) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return yamlSyntaxError(err, nil)
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = rewordTypeError(e, root)
	}
	return errors.New(strings.Join(msgs, "; "))
}

func rewordTypeError(e string, root *yaml.Node) string {
	if m := notFoundRE.FindStringSubmatch(e); m != nil {
		line, _ := strconv.Atoi(m[1])
		key := m[2]
		f, ok := findKey(root, reflect.TypeFor[Config](), "", func(k, _ *yaml.Node, _ reflect.Type) bool {
			return k.Line == line && k.Value == key
		})
		if !ok {
			return fmt.Sprintf("line %d: field %s not found: not a config key", line, key)
		}
		where := "the config's keys"
		if f.parent != "" {
			where = f.parent + "'s keys"
		}
		msg := fmt.Sprintf("line %d: field %s not found among %s", line, key, where)
		if s := closestKey(key, f.parentType); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		return msg
	}
	if m := cannotDecodeRE.FindStringSubmatch(e); m != nil {
		line, _ := strconv.Atoi(m[1])
		tag, val := m[2], strings.TrimSuffix(m[3], "...") // yaml.v3 cuts long values to 7 characters and "..."
		f, ok := findKey(root, reflect.TypeFor[Config](), "", func(_, v *yaml.Node, _ reflect.Type) bool {
			return v.Line == line && v.ShortTag() == tag && strings.HasPrefix(v.Value, val)
		})
		if ok && f.typ != nil {
			return fmt.Sprintf("line %d: %s: want %s, got %s", line, f.path, want(f.typ, f.path), got(f.value, f.typ))
		}
		return fmt.Sprintf("line %d: a value of the wrong type (%s)", line, tag)
	}
	return e // e.g. `line 2: mapping key "steps" already defined at line 1`: already in the file's terms
}

// field is a key of the YAML tree with the Go type it decodes into.
type field struct {
	path, parent string
	parentType   reflect.Type
	typ          reflect.Type // nil for a key the parent does not have
	value        *yaml.Node
}

// findKey walks mapping n, whose keys are the yaml tags of struct t, depth
// first, and returns the first key/value pair that match accepts.
func findKey(n *yaml.Node, t reflect.Type, path string, match func(k, v *yaml.Node, t reflect.Type) bool) (field, bool) {
	if n.Kind != yaml.MappingNode {
		return field{}, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft := fieldType(t, k.Value)
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		if match(k, v, ft) {
			return field{path: p, parent: path, parentType: t, typ: ft, value: v}, true
		}
		if ft != nil && ft.Kind() == reflect.Struct {
			if f, ok := findKey(v, ft, p, match); ok {
				return f, true
			}
		}
	}
	return field{}, false
}

// yamlKeys returns the yaml names of struct t's fields.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

func fieldType(t reflect.Type, key string) reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name == key {
			return t.Field(i).Type
		}
	}
	return nil
}

// closestKey suggests the key of t nearest to key (a typo or a missing
// underscore), or "" when none is close.
func closestKey(key string, t reflect.Type) string {
	if t == nil {
		return ""
	}
	keys := yamlKeys(t)
	sort.Strings(keys)
	best, bestD := "", 3 // at most two edits away
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "") }
	for _, k := range keys {
		d := editDistance(key, k)
		if norm(key) == norm(k) {
			d = 0
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// want words what a field of type t takes.
func want(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a non-negative integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct:
		return fmt.Sprintf("a mapping of %s's keys (%s)", path, strings.Join(yamlKeys(t), ", "))
	}
	return "another kind of value"
}

// got words the value found, saying why a number was refused where that is
// not obvious (too large, negative, fractional).
func got(v *yaml.Node, t reflect.Type) string {
	switch {
	case v.Kind == yaml.SequenceNode:
		return "a list"
	case v.Kind == yaml.MappingNode:
		return "a mapping"
	case v.ShortTag() == "!!null":
		return "null"
	case v.ShortTag() == "!!str":
		return strconv.Quote(v.Value)
	case v.ShortTag() == "!!int" && t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 && strings.HasPrefix(v.Value, "-"):
		return v.Value + ", a negative number"
	case v.ShortTag() == "!!int" && isInteger(t):
		return v.Value + ", too large for a 64-bit integer"
	case v.ShortTag() == "!!float" && isInteger(t) && isWhole(v.Value):
		return v.Value + ", too large for a 64-bit integer"
	case v.ShortTag() == "!!float" && isInteger(t):
		return v.Value + ", not a whole number"
	}
	return v.Value
}

func isInteger(t reflect.Type) bool {
	return t != nil && t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64
}

// isWhole reports whether YAML float s is a finite whole number (1e3 is).
func isWhole(s string) bool {
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	return err == nil && !math.IsInf(f, 0) && f == math.Trunc(f)
}

// nodeKind words the kind of a YAML node.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the single value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}
