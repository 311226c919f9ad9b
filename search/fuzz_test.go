package search

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzDecodeYAML applies arbitrary YAML to the default config: the result is
// an error or a config, never a panic, and an accepted config survives a
// round trip through YAML.
func FuzzDecodeYAML(f *testing.F) {
	for _, seed := range []string{
		"steps: 10\n", "generator: {emb: 8, hidden: 8}\n", "g_adam: {lr: 0.001, warmup: 3}\n",
		"stepz: 1\n", "steps: -1\n", "steps: [1]\n", "g_adv_lr: .nan\n", "label_smoothing: .inf\n",
		"generator:\n  vocab: 0\n", "metric: nll_test\ntest: \"\"\n", "&a [*a]", "{", "- 1\n- 2\n", "",
		"steps: 99999999999999999999999\n", "credit: rollout\nrollouts: 0\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := DecodeYAML(b, DefaultConfig())
		if err != nil {
			return
		}
		_ = cfg.Validate()
		// What was accepted survives a round trip through YAML unchanged.
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		back, err := DecodeYAML(out, DefaultConfig())
		if err != nil {
			t.Fatalf("re-encoded config refused: %v\n%s", err, out)
		}
		if d := ConfigDiff(cfg, back); len(d) > 0 {
			t.Fatalf("round trip changed %v", d)
		}
	})
}
