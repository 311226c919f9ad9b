package englishsteer

import (
	"strings"
	"testing"
)

func TestBenchValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Bench)
		want string // "" = valid
	}{
		{"defaults", func(*Bench) {}, ""},
		{"unknown task", func(b *Bench) { b.TaskNames = []string{"poetry"} }, `--task: no English task "poetry"`},
		{"prompt vocabulary", func(b *Bench) { b.Train.PromptVocab = "phrases" }, `--prompt-vocab "phrases": choose words or target`},
		{"prompt length", func(b *Bench) { b.Train.PromptLen = 0 }, "--prompt-len 0: must be at least 1"},
		{"continuations per prompt", func(b *Bench) { b.Train.ContinuationsPerPrompt = 0 }, "--continuations-per-prompt 0"},
		{"mle weight", func(b *Bench) { b.Train.MLEWeight = -1 }, "--mle-weight -1: must be in [0, 1000]"},
		{"learning rate", func(b *Bench) { b.Train.GAdvLR = 0 }, "--g-adv-lr 0: must be > 0"},
		{"temperature", func(b *Bench) { b.Train.TargetTemperature = 0 }, "--target-temperature 0"},
		{"options", func(b *Bench) { b.Budget = 10 }, "--budget 10: must be at least"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Bench{Options: Defaults()}
			tc.set(&b)
			err := b.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestBenchQuick: --quick sets what the user did not, and the tournament
// is cut to the smaller population.
func TestBenchQuick(t *testing.T) {
	b := Bench{Options: Defaults()}
	b.Budget = 999
	b.Quick(true, func(flag string) bool { return flag == "budget" })
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(b.Tasks) != 1 || b.Tasks[0].Name != "positive-reviews" || len(b.Seeds) != 1 || b.Budget != 999 || b.Population != 8 ||
		b.Train.BatchSize != 16 || b.HallVerify != 4 || b.CeilingPopulation != 8 || b.Tournament != 3 {
		t.Errorf("quick: %+v", b.Options)
	}
	b = Bench{Options: Defaults()}
	b.Population = 2
	if err := b.Validate(); err != nil || b.Tournament != 2 {
		t.Errorf("population 2: tournament %d (err %v), want 2", b.Tournament, err)
	}
}
