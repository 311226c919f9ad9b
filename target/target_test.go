package target

import (
	"context"
	"testing"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		wantErr bool
	}{{"identity", false}, {"gpt-7", true}, {"", true}}
	for _, tc := range tests {
		_, err := Open(tc.name)
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
