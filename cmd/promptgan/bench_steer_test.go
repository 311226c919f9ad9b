package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchSteerOracleSmall runs steer-oracle on a tiny budget with the Go
// target: the table prints, --json parses, every method spends its budget.
func TestBenchSteerOracleSmall(t *testing.T) {
	dir := t.TempDir()
	args := []string{"bench", "steer-oracle", "--target", "go", "--secrets", "4", "--budget", "384", "--pretrain-g-steps", "20", "--pretrain-d-steps", "2",
		"--batch-size", "32", "--refs", "64", "--level-samples", "64", "--eval-prompts", "16", "--quiet"}
	out, errOut, code := run(t, append(args, "--out", filepath.Join(dir, "a"))...)
	if code != 0 {
		t.Fatalf("bench steer-oracle: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"floor (the secrets' continuations)", "random prompts", "best-of-n", "evolution", "promptgan", "/4", "outside target.Generate", "KL(continuations of the prompt"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = run(t, append(args, "--json", "--ceiling", "--out", filepath.Join(dir, "b"))...)
	if code != 0 {
		t.Fatalf("bench steer-oracle --json: exit %d\n%s", code, errOut)
	}
	var res struct {
		Floor, Random float64
		Target        string
		PretrainCalls int    `json:"pretrain_calls"`
		BestBaseline  string `json:"best_baseline"`
		Methods       []struct {
			Name   string
			Calls  int
			Points []struct {
				Calls  int
				Metric float64
				KL     float64
				Share  []float64
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
	if res.Target != "go" || !(res.Floor < res.Random) || res.PretrainCalls != 64 ||
		strings.Join(names, ",") != "best-of-n,evolution,promptgan,exact-evo,exact-pg" || (res.BestBaseline != "best-of-n" && res.BestBaseline != "evolution") {
		t.Fatalf("result: %+v", res)
	}
	for _, m := range res.Methods {
		if m.Calls > 384 || m.Calls < 384-32 || len(m.Points) == 0 || len(m.Points[0].Share) != 4 || !(m.Points[0].Metric > 0) || !(m.Points[0].KL > 0) {
			t.Fatalf("method %s: %+v", m.Name, m)
		}
	}
	if _, errOut, code := run(t, "bench", "steer-oracle", "--secrets", "3", "--out", dir); code != 2 || !strings.Contains(errOut, "--secrets") {
		t.Fatalf("--secrets 3: exit %d, %s", code, errOut)
	}
}
