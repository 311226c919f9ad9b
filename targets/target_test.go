package targets

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		wantErr bool
	}{{"identity", false}, {"no-such-model-dir", true}, {"", true}}
	for _, tc := range tests {
		_, err := Open(Config{Name: tc.name})
		if (err != nil) != tc.wantErr {
			t.Errorf("Open(%q) error = %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}

func TestIdentityCopiesPrompts(t *testing.T) {
	prompt := []int32{3, 1, 4}
	gens, err := Identity{}.Generate(context.Background(), []Request{{Prompt: prompt}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 2 || len(gens[0].Tokens) != 3 || gens[0].Tokens[2] != 4 || len(gens[1].Tokens) != 0 {
		t.Fatalf("got %+v", gens)
	}
	prompt[0] = 9
	if gens[0].Tokens[0] != 3 {
		t.Fatal("generation aliases the prompt")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Identity{}).Generate(ctx, nil); err == nil {
		t.Fatal("cancelled context not reported")
	}
}

func TestFitGenerations(t *testing.T) {
	fit := FitGenerations(Identity{}, 3)
	if fit.Fingerprint() != "identity:fit=3" {
		t.Fatalf("fingerprint %q", fit.Fingerprint())
	}
	out, err := fit.Generate(context.Background(), []Request{{Prompt: []int32{1, 9}}, {Prompt: []int32{1, 2, 3, 4}}, {Prompt: []int32{5, 6, 7}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]int32{{1, 9, 9}, {1, 2, 3}, {5, 6, 7}} {
		if !slices.Equal(out[i].Tokens, want) {
			t.Fatalf("generation %d: %v, want %v", i, out[i].Tokens, want)
		}
	}
	if _, err := fit.Generate(context.Background(), []Request{{}}); err == nil || !strings.Contains(err.Error(), "no tokens") {
		t.Fatalf("empty generation: %v", err)
	}
}
