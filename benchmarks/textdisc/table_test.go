package textdisc

import (
	"strings"
	"testing"
)

func TestParseEncoders(t *testing.T) {
	specs, err := ParseEncoders([]string{"glove-sif", "hashing"}, "lib.so")
	if err != nil || len(specs) != 2 || specs[1].Name != "hashing" || specs[0].Library != "lib.so" {
		t.Fatalf("ParseEncoders: %+v, %v", specs, err)
	}
	if _, err := ParseEncoders([]string{"bogus"}, ""); err == nil || !strings.HasPrefix(err.Error(), "--encoder bogus: ") {
		t.Errorf("bogus encoder: %v", err)
	}
}

// TestWriteTable: the encoding times come in the order measured.
func TestWriteTable(t *testing.T) {
	res := Result{Task: "sentiment", Encoders: []string{"hashing", "glove-sif"}, EncodeS: map[string]float64{"glove-sif": 2, "hashing": 1},
		Rows: []Row{{Encoder: "hashing", Model: "logistic regression"}}}
	var b strings.Builder
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"text-disc on sentiment", "hashing      logistic regression", "encoding every text once: hashing 1.00 s, glove-sif 2.00 s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
