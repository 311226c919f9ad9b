package metrics

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAppendReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	batch1 := []Record{
		{Step: 0, Phase: "mle", Values: map[string]float64{"loss_g": 2.5, "b": -1e-300, "a": 3}},
		{Step: 10, Phase: "d_pretrain", Values: map[string]float64{"loss_d": 0.693, "d_real": 0.5}},
	}
	batch2 := []Record{
		{Step: 20, Phase: "eval", Values: map[string]float64{
			"nll_test": 1.25, "bad_nan": math.NaN(), "bad_inf": math.Inf(1), "bad_ninf": math.Inf(-1),
		}},
		{Step: 20, Phase: "adversarial", Values: nil},
	}
	if err := AppendRecords(path, batch1...); err != nil {
		t.Fatal(err)
	}
	if err := AppendRecords(path, batch2...); err != nil {
		t.Fatal(err)
	}
	if err := AppendRecords(path); err != nil { // no records: no-op
		t.Fatal(err)
	}
	got, err := ReadRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		batch1[0],
		batch1[1],
		// Non-finite values are skipped; nil Values reads back as empty.
		{Step: 20, Phase: "eval", Values: map[string]float64{"nll_test": 1.25}},
		{Step: 20, Phase: "adversarial", Values: map[string]float64{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Deterministic encoding: sorted keys, one object per line.
	firstLine := strings.SplitN(string(raw), "\n", 2)[0]
	if wantLine := `{"step":0,"phase":"mle","values":{"a":3,"b":-1e-300,"loss_g":2.5}}`; firstLine != wantLine {
		t.Errorf("first line = %s, want %s", firstLine, wantLine)
	}
	if n := strings.Count(string(raw), "\n"); n != 4 {
		t.Errorf("file has %d lines, want 4", n)
	}
	if strings.Contains(string(raw), "bad_") {
		t.Errorf("non-finite keys written: %s", raw)
	}
}

func TestReadRecordsErrors(t *testing.T) {
	good := `{"step":1,"phase":"mle","values":{"loss_g":1}}` + "\n"
	tests := []struct {
		name    string
		third   string
		wantSub string
	}{
		{"syntax", `{"step":3,"phase":`, "metrics.jsonl:3: not valid JSON"},
		{"not an object", `[1,2]`, "metrics.jsonl:3: want a JSON object {\"step\": N, \"phase\": \"...\", \"values\": {...}}, got array"},
		{"missing step", `{"phase":"mle","values":{}}`, `metrics.jsonl:3: missing "step"`},
		{"missing phase", `{"step":3,"values":{}}`, `metrics.jsonl:3: missing "phase"`},
		{"fractional step", `{"step":3.5,"phase":"mle"}`, "metrics.jsonl:3: step: want an integer, got number 3.5"},
		{"string phase", `{"step":3,"phase":7}`, "metrics.jsonl:3: phase: want a string, got number"},
		{"string value", `{"step":3,"phase":"mle","values":{"x":"NaN"}}`, "metrics.jsonl:3: values.x: want a number, got a string"},
		{"object value", `{"step":3,"phase":"mle","values":{"x":{}}}`, "metrics.jsonl:3: values.x: want a number, got an object"},
		{"trailing data", `{"step":3,"phase":"mle"} {}`, "metrics.jsonl:3: not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			if err := os.WriteFile(path, []byte(good+good+tc.third+"\n"+good), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadRecords(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantSub) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantSub)
			}
			for _, goTerm := range []string{"Go struct", "unmarshal", "of type", "float64"} {
				if strings.Contains(err.Error(), goTerm) {
					t.Errorf("err %q shows Go's terms (%s)", err, goTerm)
				}
			}
		})
	}
	if _, err := ReadRecords(filepath.Join(t.TempDir(), "missing.jsonl")); err == nil {
		t.Error("missing file: want error")
	}
}

func TestReadRecordsBlankLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	data := "\n" + `{"step":1,"phase":"mle","values":{"x":1}}` + "\n  \n" + `{"step":2,"phase":"mle"}`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Step != 1 || got[1].Step != 2 || got[1].Values == nil {
		t.Fatalf("got %#v", got)
	}
}

func TestTruncateAfter(t *testing.T) {
	recs := []Record{
		{Step: 0, Phase: "mle", Values: map[string]float64{"loss_g": 3}},
		{Step: 5, Phase: "mle", Values: map[string]float64{"loss_g": 2}},
		{Step: 5, Phase: "eval", Values: map[string]float64{"nll_test": 2.2}},
		{Step: 10, Phase: "adversarial", Values: map[string]float64{"loss_d": 0.7}},
		{Step: 7, Phase: "eval", Values: map[string]float64{"nll_test": 2.1}}, // out of order: kept by Step, not position
		{Step: 15, Phase: "adversarial", Values: map[string]float64{"loss_d": 0.6}},
	}
	tests := []struct {
		name string
		step int
		want []int // indices into recs
	}{
		{"middle", 5, []int{0, 1, 2}},
		{"out of order kept", 7, []int{0, 1, 2, 4}},
		{"all", 100, []int{0, 1, 2, 3, 4, 5}},
		{"none", -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			if err := AppendRecords(path, recs...); err != nil {
				t.Fatal(err)
			}
			if err := TruncateAfter(path, tc.step); err != nil {
				t.Fatal(err)
			}
			got, err := ReadRecords(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []Record
			for _, i := range tc.want {
				want = append(want, recs[i])
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v\nwant %#v", got, want)
			}
			// Appending after truncation continues the log cleanly.
			if err := AppendRecords(path, Record{Step: 99, Phase: "mle", Values: map[string]float64{}}); err != nil {
				t.Fatal(err)
			}
			got, err = ReadRecords(path)
			if err != nil || len(got) != len(want)+1 {
				t.Fatalf("after append: %d records, err %v", len(got), err)
			}
			// No temp files left behind.
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Errorf("directory has %d entries, want 1", len(ents))
			}
		})
	}
}

func TestTruncateAfterMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	if err := TruncateAfter(path, 3); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("missing file was created (stat err %v)", err)
	}
}

func TestTruncateAfterTornAndMalformed(t *testing.T) {
	good := `{"step":1,"phase":"mle","values":{"loss_g":1}}` + "\n"
	later := `{"step":9,"phase":"mle","values":{"loss_g":1}}` + "\n"

	// A torn (unterminated, unparsable) final line is dropped.
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	if err := os.WriteFile(path, []byte(good+later+`{"step":10,"pha`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := TruncateAfter(path, 100); err != nil {
		t.Fatalf("torn final line: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if string(raw) != good+later {
		t.Errorf("after torn-line truncate: %q", raw)
	}

	// A malformed line elsewhere is an error and the file is untouched.
	path = filepath.Join(t.TempDir(), "metrics.jsonl")
	orig := good + good + "garbage\n" + later
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	err := TruncateAfter(path, 5)
	if err == nil || !strings.Contains(err.Error(), "metrics.jsonl:3") {
		t.Fatalf("err = %v, want containing metrics.jsonl:3", err)
	}
	raw, _ = os.ReadFile(path)
	if string(raw) != orig {
		t.Errorf("file changed after failed truncate: %q", raw)
	}
}

// A log saved by a Windows editor (BOM, CRLF) reads, and a number beyond
// float64's range reads as ±Inf instead of failing the file, for plot to
// clip.
func TestReadRecordsForeignText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	data := "\ufeff" + `{"step":1,"phase":"mle","values":{"loss_g":2.5}}` + "\r\n" +
		`{"step":2,"phase":"mle","values":{"loss_g":1e400,"loss_d":-1e400,"x":1e308,"y":null}}` + "\r\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Step: 1, Phase: "mle", Values: map[string]float64{"loss_g": 2.5}},
		{Step: 2, Phase: "mle", Values: map[string]float64{"loss_g": math.Inf(1), "loss_d": math.Inf(-1), "x": 1e308}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
