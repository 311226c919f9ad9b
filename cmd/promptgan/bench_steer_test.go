package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchSteerOracleSmall runs steer-oracle on a tiny budget with the Go
// target: the table prints, --json parses, every method spends its budget.
func TestBenchSteerOracleSmall(t *testing.T) {
	dir := t.TempDir()
	args := []string{"bench", "steer-oracle", "--target", "go", "--secrets", "4", "--budget", "384", "--pretrain-g-steps", "20", "--pretrain-d-steps", "2",
		"--batch-size", "32", "--refs", "64", "--level-samples", "64", "--forward-samples", "4", "--eval-prompts", "16", "--quiet"}
	out, errOut, code := run(t, append(args, "--out", filepath.Join(dir, "a"))...)
	if code != 0 {
		t.Fatalf("bench steer-oracle: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"floor (the secrets' continuations)", "random prompts", "best-of-n", "evolution", "promptgan", "/4", "outside target.Generate",
		"symmetric KL per token", "forward KL(P(·|s) ‖ P(·|p))", "over 4 fixed continuations", "NLL metric (gap)", "final symmetric KL"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = run(t, append(args, "--json", "--ceiling", "--out", filepath.Join(dir, "b"))...)
	if code != 0 {
		t.Fatalf("bench steer-oracle --json: exit %d\n%s", code, errOut)
	}
	var res struct {
		Floor, Random     float64
		FloorKLSym        float64 `json:"floor_kl_sym"`
		RandomKLSym       float64 `json:"random_kl_sym"`
		RandomKLForward   float64 `json:"random_kl_forward"`
		ForwardN          int     `json:"forward_per_secret"`
		Target            string
		PretrainCalls     int     `json:"pretrain_calls"`
		BestBaseline      string  `json:"best_baseline"`
		BestBaselineFinal float64 `json:"best_baseline_final"`
		Methods           []struct {
			Name   string
			Calls  int
			Points []struct {
				Calls     int
				Metric    float64
				KL        float64
				KLForward float64 `json:"kl_forward"`
				KLSym     float64 `json:"kl_sym"`
				Share     []float64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	var names []string
	for _, m := range res.Methods {
		names = append(names, m.Name)
	}
	// --ceiling adds the two exact-reward diagnostics, which never count as the best baseline
	if res.Target != "go" || !(res.Floor < res.Random) || res.PretrainCalls != 64 || res.ForwardN != 4 ||
		!(res.FloorKLSym < res.RandomKLSym) || !(res.RandomKLForward > 0) ||
		strings.Join(names, ",") != "best-of-n,evolution,promptgan,exact-evo,exact-pg" || (res.BestBaseline != "best-of-n" && res.BestBaseline != "evolution") {
		t.Fatalf("result: %+v", res)
	}
	for _, m := range res.Methods {
		if m.Calls > 384 || m.Calls < 384-32 || len(m.Points) == 0 || len(m.Points[0].Share) != 4 || !(m.Points[0].Metric > 0) || !(m.Points[0].KL > 0) {
			t.Fatalf("method %s: %+v", m.Name, m)
		}
		// the headline: the mean of the two directions, both positive away from the secrets
		for _, p := range m.Points {
			if !(p.KLForward > 0) || math.Abs(p.KLSym-(p.KLForward+p.KL)/2) > 1e-12 {
				t.Fatalf("method %s at %d calls: forward %g, reverse %g, symmetric %g", m.Name, p.Calls, p.KLForward, p.KL, p.KLSym)
			}
		}
		// the best baseline is chosen by its final symmetric KL
		if last := m.Points[len(m.Points)-1]; m.Name == res.BestBaseline && last.KLSym != res.BestBaselineFinal {
			t.Fatalf("best baseline %s: final symmetric KL %g, reported %g", m.Name, last.KLSym, res.BestBaselineFinal)
		}
	}
	for _, bad := range [][]string{{"--secrets", "3"}, {"--forward-samples", "0"}} {
		if _, errOut, code := run(t, append([]string{"bench", "steer-oracle", "--out", dir}, bad...)...); code != 2 || !strings.Contains(errOut, bad[0]) {
			t.Fatalf("%v: exit %d, %s", bad, code, errOut)
		}
	}
}
