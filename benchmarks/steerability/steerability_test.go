package steerability

import (
	"strings"
	"testing"

	"promptgan/audit"
	"promptgan/english"
)

// valid returns options that pass Validate: the CLI's defaults.
func valid() Options {
	return Options{Template: english.PromptTemplate, Reference: "ngram", AuditParts: []string{audit.PartAudit}, MaxNewTokens: 16,
		Steer: audit.SteerOptions{Continuations: 32, CeilingContinuations: 8, RandomPrompts: 16, Seeds: []uint64{1, 2, 3}, CeilingBudget: 1536, CeilingPopulation: 16}}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Options)
		want string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"task", func(o *Options) { o.Tasks = []string{"definitions"} }, ""},
		{"reference lm", func(o *Options) { o.Reference = "lm:some/dir" }, ""},
		{"audit and target parts", func(o *Options) { o.AuditParts = []string{audit.PartAudit, audit.PartTarget} }, ""},
		{"bad template", func(o *Options) { o.Template = "{promt}" }, "--template"},
		{"unknown task", func(o *Options) { o.Tasks = []string{"poetry"} }, `--task: no English task "poetry"`},
		{"no new tokens", func(o *Options) { o.MaxNewTokens = 0 }, "--max-new-tokens 0: need at least 1"},
		{"budget under a generation", func(o *Options) { o.Steer.CeilingBudget = 10 }, "under one generation"},
		{"audit on D's part", func(o *Options) { o.AuditParts = []string{audit.PartDisc} }, `--audit-part "disc"`},
		{"bad reference", func(o *Options) { o.Reference = "gpt" }, `--reference "gpt": choose ngram, lm or lm:DIR`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.set(&o)
			err := o.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
	o := valid()
	o.Tasks = []string{"definitions", "positive-reviews"}
	if err := o.Validate(); err != nil || len(o.Steer.Tasks) != 2 || o.Steer.Tasks[1].Name != "positive-reviews" || o.Steer.Template.String() != english.PromptTemplate {
		t.Errorf("Validate resolved tasks %+v, template %q (err %v)", o.Steer.Tasks, o.Steer.Template.String(), err)
	}
}

func TestQuick(t *testing.T) {
	o := valid()
	o.Quick(true, func(flag string) bool { return flag == "budget" })
	s := o.Steer
	if s.Continuations != 8 || s.CeilingContinuations != 4 || s.RandomPrompts != 8 || s.CeilingBudget != 1536 {
		t.Errorf("quick: continuations %d, search %d, random %d, budget %d; want 8, 4, 8 and the set 1536",
			s.Continuations, s.CeilingContinuations, s.RandomPrompts, s.CeilingBudget)
	}
}

func TestWriteTable(t *testing.T) {
	res := &Result{Target: "lm", Template: "{prompt} :", MaxNewTokens: 6, VocabWords: 100, Continuations: 8, SearchConts: 4,
		Judge: audit.JudgeInfo{AuditParts: []string{"audit"}, Audit: audit.Eval{AUC: map[string]float64{"positive": 0.9}}},
		Rows:  []audit.SteerRow{{Task: "positive-reviews", Pass: true, SeedScore: []audit.PromptScore{{Prompt: "A review:", Score: 0.25}}}},
		Calls: 42, RandomPrompts: 8, Seeds: []uint64{1, 2}, CeilingFromRandom: true}
	var b strings.Builder
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"steerability of lm (template \"{prompt} :\", 6 new tokens; 100 prompt words)", "positive 0.90", "positive-reviews",
		" yes ", "random: 8 prompts of 3–6 target words per seed, seeds [1 2]", "from random prompts,", "4 continuations a generation",
		"goal: ceiling ≥ 70% of real and ≥ 2× random", `seed prompts: "A review:" 0.250;`, "42 target calls"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
