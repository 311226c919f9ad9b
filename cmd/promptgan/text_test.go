package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"promptgan/checkpoints"
	"promptgan/embeddings/glove"
	"promptgan/english"
	"promptgan/internal/nn"
	"promptgan/search"
	"promptgan/targets/ledger"
)

// textFixture returns the absolute path of a file of testdata/text (run
// executes the CLI from the repository root).
func textFixture(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "text", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runStdin is run with stdin: the CLI reads prompts or pairs from it.
func runStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Reader, app.Writer, app.ErrWriter = strings.NewReader(stdin), &out, &errOut
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	err := app.Run(append([]string{"promptgan"}, args...))
	code := exitCode(err)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

// ledgerRecords opens a run's call ledger and returns how many records it holds.
func ledgerRecords(t *testing.T, runDir string) int {
	t.Helper()
	l, err := ledger.Open(filepath.Join(runDir, "ledger"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Len()
}

// trainText trains a small text run (testdata/text/tiny.yaml) on a task of
// testdata/text into a new directory and returns it.
func trainText(t *testing.T, taskFile string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "--task", textFixture(t, taskFile), "--target", tinyGPT2,
		"--config", textFixture(t, "tiny.yaml"), "--out", dir, "--quiet"}, extra...)
	out, errOut, code := run(t, args...)
	if code != 0 || !strings.Contains(out, "finished at step 8") {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	return dir
}

// tableRow is one row of score's or search's ranked table.
var tableRow = regexp.MustCompile(`(?m)^(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(\S+)\s+(".*")$`)

// promptTable parses the rows of a ranked prompt table: rank, score and the
// quoted prompt, in printed order.
func promptTable(t *testing.T, out string) (ranks []int, scores []float64, prompts []string) {
	t.Helper()
	if !strings.Contains(out, "rank score   se      spread  score_sd  bleu_2  prompt") {
		t.Fatalf("no ranked table header in:\n%s", out)
	}
	for _, m := range tableRow.FindAllStringSubmatch(out, -1) {
		r, _ := strconv.Atoi(m[1])
		s, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("row %q: %v", m[0], err)
		}
		p, err := strconv.Unquote(m[7])
		if err != nil {
			t.Fatalf("row %q: %v", m[0], err)
		}
		ranks, scores, prompts = append(ranks, r), append(scores, s), append(prompts, p)
	}
	return ranks, scores, prompts
}

type promptScoreJSON struct {
	Prompt   string   `json:"prompt"`
	Score    *float64 `json:"score"`
	Spread   *float64 `json:"spread"`
	ScoreStd *float64 `json:"score_std"`
	ScoreSE  *float64 `json:"score_se"`
	BLEU     *float64 `json:"bleu_2"`
}

// TestTextRunCLI trains a text run on an input-free task and on one with
// inputs, resumes it, inspects it, scores prompts (arguments, --file, stdin,
// --json) and pairs (no target call), checks that scoring is repeatable
// from the ledger, and searches the generator's prompts.
func TestTextRunCLI(t *testing.T) {
	needORT(t)
	for _, tc := range []struct {
		name, task string
		train      []string // extra train flags
		inputFree  bool
		pairs      string // a pair of each kind: good, then bad
	}{
		{"input-free", "reviews.jsonl", nil, true, `{"generation": "the soup was wonderful and we will come back"}` + "\n\n" +
			`{"generation": "the staff was awful and we left early"}` + "\n"},
		{"phrases", "reviews.jsonl", []string{"--prompt-vocab", "phrases:" + textFixture(t, "phrases.txt")}, true, `{"generation": "the room was lovely and we will come back"}` + "\n" +
			`{"generation": "the book was boring and we left early"}` + "\n"},
		{"inputs", "answers.jsonl", nil, false, `{"input": "how was the soup on day 0?", "generation": "the soup was wonderful"}` + "\r\n" +
			`{"input": "how was the soup on day 0?", "generation": "the soup was awful"}` + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := trainText(t, tc.task, tc.train...)
			out, errOut, code := run(t, "resume", dir, "--steps", "10", "--quiet")
			if code != 0 || !strings.Contains(out, "finished at step 10") || !strings.Contains(out, "auc") {
				t.Fatalf("resume --steps 10: exit %d\n%s\n%s", code, out, errOut)
			}
			out, errOut, code = run(t, "inspect", dir)
			if code != 0 || !strings.Contains(out, "step        10 of 10") ||
				!strings.Contains(out, "task        "+textFixture(t, tc.task)) || !strings.Contains(out, "hashing:64") {
				t.Fatalf("inspect: exit %d\n%s\n%s", code, out, errOut)
			}

			// Prompts as arguments, from --file and from stdin, as a table and as JSON.
			prompts := []string{"the soup was", "we will come", "the staff"}
			file := textFixture(t, "prompts.txt") // the same three prompts, CRLF-free, one a line
			records := ledgerRecords(t, dir)
			byArgs, errOut, code := run(t, append([]string{"score", "--samples", "3", dir}, prompts...)...)
			if code != 0 {
				t.Fatalf("score: exit %d\n%s", code, errOut)
			}
			ranks, scores, got := promptTable(t, byArgs)
			if len(got) != len(prompts) {
				t.Fatalf("score printed %d rows for %d prompts:\n%s", len(got), len(prompts), byArgs)
			}
			for i, r := range ranks {
				if r != i+1 || scores[i] < 0 || scores[i] > 1 || (i > 0 && scores[i] > scores[i-1]) {
					t.Fatalf("row %d: rank %d, score %v (not ranked best first?):\n%s", i+1, r, scores[i], byArgs)
				}
			}
			afterScore := ledgerRecords(t, dir)
			if afterScore != records+len(prompts)*3 {
				t.Fatalf("scoring 3 prompts × 3 samples added %d ledger records, want 9", afterScore-records)
			}
			// The same prompts with the same seed: the same numbers, every call answered by the ledger.
			again, _, code := run(t, append([]string{"score", "--samples", "3", dir}, prompts...)...)
			if code != 0 || again != byArgs {
				t.Fatalf("scoring twice differs (exit %d):\n%s\nthen\n%s", code, byArgs, again)
			}
			byFile, errOut, code := run(t, "score", "--samples", "3", "--file", file, dir)
			if code != 0 || byFile != byArgs {
				t.Fatalf("score --file: exit %d: %s\n%s\nwant\n%s", code, errOut, byFile, byArgs)
			}
			byStdin, errOut, code := runStdin(t, "\ufeff"+strings.Join(prompts, "\r\n")+"\r\n\n", "score", "--samples", "3", dir)
			if code != 0 || byStdin != byArgs {
				t.Fatalf("score from stdin: exit %d: %s\n%s\nwant\n%s", code, errOut, byStdin, byArgs)
			}
			if n := ledgerRecords(t, dir); n != afterScore {
				t.Fatalf("re-scoring the same prompts added %d ledger records, want 0", n-afterScore)
			}
			// Another seed asks other requests.
			if other, _, code := run(t, append([]string{"score", "--samples", "3", "--seed", "2", dir}, prompts...)...); code != 0 || ledgerRecords(t, dir) == afterScore {
				t.Fatalf("score --seed 2: exit %d, no new ledger record\n%s", code, other)
			}

			out, errOut, code = run(t, append([]string{"score", "--samples", "3", "--json", "--show", dir}, prompts...)...)
			if code != 0 {
				t.Fatalf("score --json: exit %d\n%s", code, errOut)
			}
			var js []struct {
				promptScoreJSON
				Generations []struct {
					Input      string   `json:"input"`
					Generation *string  `json:"generation"`
					Score      *float64 `json:"score"`
				} `json:"generations"`
			}
			if err := json.Unmarshal([]byte(out), &js); err != nil {
				t.Fatalf("score --json: %v\n%s", err, out)
			}
			if len(js) != len(prompts) {
				t.Fatalf("score --json: %d results for %d prompts", len(js), len(prompts))
			}
			for i, s := range js {
				if s.Score == nil || s.Spread == nil || s.ScoreStd == nil || s.ScoreSE == nil || len(s.Generations) != 3 {
					t.Fatalf("score --json result %d lacks fields: %s", i, out)
				}
				if (s.BLEU != nil) == tc.inputFree {
					t.Errorf("bleu_2 of %q: %v, want it only for a task with inputs", s.Prompt, s.BLEU)
				}
				// The table rounds the JSON's numbers, for the same prompt.
				k := -1
				for j, p := range got {
					if p == s.Prompt {
						k = j
					}
				}
				if k < 0 || strconv.FormatFloat(*s.Score, 'f', 3, 64) != strconv.FormatFloat(scores[k], 'f', 3, 64) {
					t.Errorf("--json score of %q is %v, the table's %v", s.Prompt, *s.Score, scores)
				}
				for _, g := range s.Generations {
					if g.Generation == nil || g.Score == nil || (g.Input == "") != tc.inputFree {
						t.Errorf("generation of %q: %+v", s.Prompt, g)
					}
				}
			}

			// Pairs: D's verdict with no target call.
			pairs := filepath.Join(t.TempDir(), "pairs.jsonl")
			if err := os.WriteFile(pairs, []byte(tc.pairs), 0o644); err != nil {
				t.Fatal(err)
			}
			records = ledgerRecords(t, dir)
			out, errOut, code = run(t, "score", "--pairs", pairs, "--json", dir)
			if code != 0 {
				t.Fatalf("score --pairs: exit %d\n%s", code, errOut)
			}
			var ps []struct {
				Score  *float64 `json:"score"`
				Spread *float64 `json:"spread"`
			}
			if err := json.Unmarshal([]byte(out), &ps); err != nil || len(ps) != 2 || ps[0].Score == nil || ps[1].Score == nil || ps[0].Spread == nil {
				t.Fatalf("score --pairs --json: %v\n%s", err, out)
			}
			// The task's own good and bad texts: D learnt them apart.
			if !(*ps[0].Score > *ps[1].Score) {
				t.Errorf("a good pair scored %v, a bad one %v", *ps[0].Score, *ps[1].Score)
			}
			table, errOut, code := runStdin(t, tc.pairs, "score", "--pairs", "-", dir)
			if code != 0 || !strings.HasPrefix(table, "score   spread  pair\n") || strings.Count(table, "\n") != 3 {
				t.Fatalf("score --pairs - (stdin): exit %d: %s\n%s", code, errOut, table)
			}
			if n := ledgerRecords(t, dir); n != records {
				t.Fatalf("score --pairs added %d ledger records: it must not call the target", n-records)
			}

			// Search: a ranked list of the generator's prompts, verified on the target.
			out, errOut, code = run(t, "search", "--n", "12", "--top", "3", "--verify", "2", dir)
			if code != 0 || !strings.Contains(out, "drew 12 prompts") {
				t.Fatalf("search: exit %d\n%s\n%s", code, out, errOut)
			}
			ranks, scores, got = promptTable(t, out)
			if len(got) == 0 || len(got) > 3 {
				t.Fatalf("search listed %d prompts, want 1 to 3:\n%s", len(got), out)
			}
			for i := range ranks {
				if ranks[i] != i+1 || (i > 0 && scores[i] > scores[i-1]) {
					t.Fatalf("search's list is not ranked best first:\n%s", out)
				}
			}
			if tc.name == "phrases" {
				// prompt_len phrases of the bank, joined by spaces
				bank, err := os.ReadFile(textFixture(t, "phrases.txt"))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range got {
					for _, w := range strings.Fields(p) {
						if !strings.Contains(" "+strings.ReplaceAll(string(bank), "\n", " ")+" ", " "+w+" ") {
							t.Errorf("searched prompt %q has %q, a word of no phrase of the bank", p, w)
						}
					}
				}
			}
			out, errOut, code = run(t, "search", "--n", "12", "--top", "3", "--verify", "2", "--json", dir)
			var sr struct {
				Drawn, Distinct int
				Verified        []promptScoreJSON
			}
			if code != 0 {
				t.Fatalf("search --json: exit %d\n%s", code, errOut)
			}
			if err := json.Unmarshal([]byte(out), &sr); err != nil || sr.Drawn != 12 || sr.Distinct < 1 || len(sr.Verified) != len(got) {
				t.Fatalf("search --json: %v\n%s", err, out)
			}
			for i, v := range sr.Verified {
				if v.Prompt != got[i] || v.Score == nil || (i > 0 && *v.Score > *sr.Verified[i-1].Score) {
					t.Fatalf("search --json's verified list differs from the table's or is not ranked:\n%s", out)
				}
			}
		})
	}
}

// writeVectors writes a GloVe-SIF vectors file of dim dimensions for the
// words of the reviews fixture (and one more) and returns its path.
func writeVectors(t *testing.T, dir string, dim int) string {
	t.Helper()
	b, err := os.ReadFile(textFixture(t, "reviews.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{"unseen": true}
	words := []string{"unseen"}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ex struct{ Text string }
		if err := json.Unmarshal([]byte(line), &ex); err != nil {
			t.Fatal(err)
		}
		for _, w := range strings.Fields(ex.Text) {
			if !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	rng := nn.NewRNG(11, 1)
	matrix := make([]float32, len(words)*dim)
	for i := range matrix {
		matrix[i] = float32(rng.Float64()*2 - 1)
	}
	v, err := glove.NewVectors(dim, words, matrix, len(words)+100)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vectors.bin")
	if err := v.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTextBadInput: every bad input is one clear message naming the file,
// line or field, with exit status 2 (how the command was called) or 1 (what
// a file holds), and never a panic or a Go stack trace.
func TestTextBadInput(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	reviews, config := textFixture(t, "reviews.jsonl"), textFixture(t, "tiny.yaml")
	empty := write("empty.jsonl", nil)
	latin1 := write("latin1.jsonl", []byte("{\"text\": \"good soup\", \"label\": \"good\"}\n{\"text\": \"caf\xe9 au lait\", \"label\": \"good\"}\n"))
	huge := write("huge.jsonl", []byte(`{"text": "`+strings.Repeat("a", 12<<20)+`", "label": "good"}`+"\n"))
	noGood := write("nogood.jsonl", []byte(strings.Repeat(`{"text": "the soup was awful", "label": "bad"}`+"\n", 8)))
	missing := filepath.Join(dir, "missing.jsonl")

	// An ONNX encoder directory without its tokenizer.
	encDir := filepath.Join(dir, "tiny-encoder")
	if err := os.MkdirAll(encDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.onnx"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "embeddings", "onnx", "testdata", "tiny-encoder", f))
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join("tiny-encoder", f), b)
	}
	// A vectors file cut short, and one that is not a vectors file.
	good, err := os.ReadFile(writeVectors(t, t.TempDir(), 8))
	if err != nil {
		t.Fatal(err)
	}
	truncated := write("truncated.vec", good[:len(good)/2])
	headerOnly := write("header.vec", good[:20])
	garbage := write("garbage.vec", []byte("the 0.1 0.2 0.3 0.4\nsoup 0.4 0.5 0.6 0.7\nwas 0.7 0.8 0.9 1.0\n")) // GloVe's text format, not converted

	train := func(extra ...string) []string {
		return append([]string{"train", "--target", tinyGPT2, "--config", config, "--quiet", "--out", filepath.Join(t.TempDir(), "run")}, extra...)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"empty task", train("--task", empty), 1, []string{empty, "no examples"}},
		{"non-UTF-8 task", train("--task", latin1), 1, []string{latin1 + ":2:", "not valid UTF-8"}},
		{"12 MiB line", train("--task", huge), 1, []string{huge + ":1:", "longer than 1048576 bytes"}},
		{"no good example", train("--task", noGood), 1, []string{noGood, "no good example"}},
		{"missing task", train("--task", missing), 1, []string{missing, "no such file"}},
		{"template without {prompt}", train("--task", reviews, "--template", "hello"), 2, []string{`template "hello" has no {prompt}`}},
		{"misspelt placeholder", train("--task", reviews, "--template", "{promt} =>"), 2, []string{`{promt}`}},
		{"template with {input} on an input-free task", train("--task", reviews, "--template", "{input} {prompt}"), 2, []string{"uses {input}", "input-free"}},
		{"misspelt built-in task", train("--task", "sentimentt"), 1, []string{"sentimentt", "nor a built-in task", `"sentiment"`, "positive-reviews"}},
		{"onnx encoder without tokenizer.json", train("--task", reviews, "--encoder", "onnx:"+encDir), 1, []string{filepath.Join(encDir, "tokenizer.json"), "not found"}},
		{"truncated vectors", train("--task", reviews, "--encoder", "glove-sif:"+truncated), 1, []string{truncated, "truncated"}},
		{"vectors header only", train("--task", reviews, "--encoder", "glove-sif:"+headerOnly), 1, []string{headerOnly, "shorter than the 40-byte header"}},
		{"text vectors file", train("--task", reviews, "--encoder", "glove-sif:"+garbage), 1, []string{garbage, "not a promptgan vectors file"}},
		{"missing vectors", train("--task", reviews, "--encoder", "glove-sif:"+filepath.Join(dir, "none.vec")), 1, []string{filepath.Join(dir, "none.vec")}},
		{"unknown encoder", train("--task", reviews, "--encoder", "word2vec"), 2, []string{`encoder "word2vec"`, "glove-sif, hashing[:DIM] or onnx:DIR"}},
		{"glove without -sif", train("--task", reviews, "--encoder", "glove"), 2, []string{`encoder "glove"`}},
		{"hashing dimension", train("--task", reviews, "--encoder", "hashing:1"), 2, []string{`encoder "hashing:1"`, "hashing:DIM"}},
		{"missing phrase bank", train("--task", reviews, "--prompt-vocab", "phrases:"+filepath.Join(dir, "none.txt")), 1, []string{filepath.Join(dir, "none.txt")}},
		{"phrases without a file", train("--task", reviews, "--prompt-vocab", "phrases"), 2, []string{"phrases:FILE"}},
		{"example prompts without MLE", train("--task", reviews, "--prompt-examples", textFixture(t, "prompts.txt")), 2, []string{"G learns from the examples only by MLE"}},
		{"unknown prompt vocabulary", train("--task", reviews, "--prompt-vocab", "letters"), 2, []string{`prompt_vocab = "letters"`}},
		{"identity target", []string{"train", "--task", reviews, "--target", "identity", "--out", filepath.Join(t.TempDir(), "run")}, 2, []string{"a text run needs a model that reads and writes text"}},
		{"task without a target", []string{"train", "--task", reviews, "--out", filepath.Join(t.TempDir(), "run")}, 2, []string{"needs --target DIR"}},
		{"task with token files", train("--task", reviews, "--train", reviews), 2, []string{"remove the token files"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkBad(t, tc.args, "", tc.wantCode, tc.want...)
		})
	}

	// The commands that read a text run.
	runDir := trainText(t, "reviews.jsonl")
	tokenRun := filepath.Join(t.TempDir(), "tokens")
	if _, errOut, code := run(t, "train", "--preset", "tiny", "--steps", "2", "--out", tokenRun, "--quiet"); code != 0 {
		t.Fatalf("train a token run: exit %d: %s", code, errOut)
	}
	goodPairs := write("good.jsonl", []byte(`{"generation": "the soup was lovely"}`+"\n"))
	pairs := write("pairs.jsonl", []byte(`{"generation": "the soup was lovely"}`+"\n"+`{"generation": 3}`+"\n"))
	notJSON := write("notjson.jsonl", []byte(`{"generation": "fine"}`+"\n\n"+`generation: oops`+"\n"))
	unknownField := write("unknown.jsonl", []byte(`{"generation": "fine", "output": "x"}`+"\n"))
	twoObjects := write("two.jsonl", []byte(`{"generation": "a"} {"generation": "b"}`+"\n"))
	noGeneration := write("nogen.jsonl", []byte(`{"generation": "fine"}`+"\n"+`{"input": ""}`+"\n"))
	withInput := write("withinput.jsonl", []byte(`{"input": "how was it?", "generation": "fine"}`+"\n"))
	blank := write("blank.jsonl", []byte("\n \n"))
	badPrompts := write("prompts.txt", []byte("the soup\n\xff\xfe\n"))
	records := ledgerRecords(t, runDir)
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		want     []string
	}{
		{"score a token run", []string{"score", tokenRun, "the soup"}, "", 2, []string{"not a text run"}},
		{"score --pairs on a token run", []string{"score", "--pairs", goodPairs, tokenRun}, "", 2, []string{"not a text run"}},
		{"search a token run", []string{"search", tokenRun}, "", 2, []string{"not a text run"}},
		{"score a directory without a run", []string{"score", dir, "the soup"}, "", 1, []string{dir}},
		{"score without a run", []string{"score"}, "", 2, []string{"needs a run directory"}},
		{"flag after the run directory", []string{"score", runDir, "--samples", "4", "the soup"}, "", 2, []string{`"--samples" after the run directory`, "flags go first"}},
		{"no prompts on stdin", []string{"score", runDir}, "\n  \n", 2, []string{"no prompts"}},
		{"zero samples", []string{"score", "--samples", "0", runDir, "the soup"}, "", 2, []string{"--samples 0"}},
		{"prompts with --pairs", []string{"score", "--pairs", pairs, runDir, "the soup"}, "", 2, []string{"give no prompts with it"}},
		{"missing prompts file", []string{"score", "--file", filepath.Join(dir, "none.txt"), runDir}, "", 1, []string{filepath.Join(dir, "none.txt")}},
		{"non-UTF-8 prompts file", []string{"score", "--file", badPrompts, runDir}, "", 1, []string{badPrompts + ":2:", "not valid UTF-8"}},
		{"pairs: wrong type", []string{"score", "--pairs", pairs, runDir}, "", 1, []string{pairs + ":2:", `field "generation": want a string`}},
		{"pairs: not JSON", []string{"score", "--pairs", notJSON, runDir}, "", 1, []string{notJSON + ":3:", "one JSON object"}},
		{"pairs: unknown field", []string{"score", "--pairs", unknownField, runDir}, "", 1, []string{unknownField + ":1:", `"output"`}},
		{"pairs: two objects a line", []string{"score", "--pairs", twoObjects, runDir}, "", 1, []string{twoObjects + ":1:", "one object a line"}},
		{"pairs: no generation", []string{"score", "--pairs", noGeneration, runDir}, "", 1, []string{noGeneration + ":2:", `"generation" is missing`}},
		{"pairs: stdin line", []string{"score", "--pairs", "-", runDir}, `{"generation": "ok"}` + "\n" + `[1]` + "\n", 1, []string{"stdin:2:"}},
		{"pairs: an input for an input-free task", []string{"score", "--pairs", withInput, runDir}, "", 1, []string{"pair 1 has an input", "input-free"}},
		{"pairs: none", []string{"score", "--pairs", blank, runDir}, "", 2, []string{blank, "no pairs"}},
		{"pairs: missing file", []string{"score", "--pairs", filepath.Join(dir, "none.jsonl"), runDir}, "", 1, []string{filepath.Join(dir, "none.jsonl")}},
		{"search --top 0", []string{"search", "--top", "0", runDir}, "", 2, []string{"--top"}},
		{"search two runs", []string{"search", runDir, runDir}, "", 2, []string{"exactly one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkBad(t, tc.args, tc.stdin, tc.wantCode, tc.want...)
		})
	}
	if n := ledgerRecords(t, runDir); n != records {
		t.Errorf("refused commands added %d ledger records", n-records)
	}
	// A run whose ledger another process holds (promptgan serve --run, say):
	// score and search name the holder and say what to do instead.
	held, err := ledger.Open(filepath.Join(runDir, "ledger"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, args := range [][]string{{"score", runDir, "the soup"}, {"search", runDir}} {
		checkBad(t, args, "", 1, fmt.Sprintf("ledger in use by another process (pid %d)", os.Getpid()), "POST /v1/score/prompts", "stop it")
	}
}

// TestTextGloveVectorsChanged trains with a GloVe-SIF vectors file, then
// replaces it by one of another dimension: scoring refuses the run's
// checkpoint, naming the encoder, rather than feeding D features of the
// wrong width.
func TestTextGloveVectorsChanged(t *testing.T) {
	needORT(t)
	vecDir := t.TempDir()
	vectors := writeVectors(t, vecDir, 8)
	dir := trainText(t, "reviews.jsonl", "--encoder", "glove-sif:"+vectors)
	if out, errOut, code := run(t, "score", "--samples", "2", dir, "the soup was"); code != 0 {
		t.Fatalf("score with the run's vectors: exit %d\n%s\n%s", code, out, errOut)
	}
	if err := os.Remove(vectors); err != nil {
		t.Fatal(err)
	}
	writeVectors(t, vecDir, 4)
	for _, args := range [][]string{
		{"score", "--samples", "2", dir, "the soup was"},
		{"score", "--pairs", "-", dir},
		{"resume", dir, "--steps", "9", "--quiet"},
	} {
		checkBad(t, args, `{"generation": "the soup was lovely"}`+"\n", 1, "encoder is not what the checkpoint was trained with")
	}
}

// checkBad runs the CLI and checks the exit status, that stderr holds every
// wanted substring, and that nothing panicked.
func checkBad(t *testing.T, args []string, stdin string, wantCode int, want ...string) {
	t.Helper()
	var out, errOut string
	var code int
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%v panicked: %v", args, r)
			}
		}()
		out, errOut, code = runStdin(t, stdin, args...)
	}()
	if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
		t.Fatalf("%v: a stack trace or panic:\n%s", args, errOut)
	}
	if code != wantCode {
		t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("%v: stderr lacks %q:\n%s", args, w, errOut)
		}
	}
}

// export writes the text discriminator as ONNX with its description, and
// score --pairs --onnx (through ONNX Runtime) prints what the Go forward
// pass prints; a token run has nothing to export.
func TestTextExportAndONNXScoring(t *testing.T) {
	needORT(t)
	dir := trainText(t, "reviews.jsonl")
	out := t.TempDir()
	if o, errOut, code := run(t, "export", "--out", out, dir); code != 0 || !strings.Contains(o, "discriminator.onnx") {
		t.Fatalf("export: exit %d\n%s\n%s", code, o, errOut)
	}
	// Without --out the files go beside the run, not into the working
	// directory (issue 26).
	if o, errOut, code := run(t, "export", dir); code != 0 || !strings.Contains(o, filepath.Join(dir, "export")) {
		t.Fatalf("export without --out: exit %d\n%s\n%s", code, o, errOut)
	}
	for _, f := range []string{"discriminator.onnx", "discriminator.json"} {
		if _, err := os.Stat(filepath.Join(dir, "export", f)); err != nil {
			t.Errorf("export without --out: %v", err)
		}
	}
	var desc search.DiscriminatorExport
	b, err := os.ReadFile(filepath.Join(out, "discriminator.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &desc); err != nil || desc.Features != 64+6 || !desc.InputFree || desc.Encoder != "hashing:64" || !(desc.Temperature > 0) {
		t.Fatalf("discriminator.json: %v\n%s", err, b)
	}
	if st, err := os.Stat(filepath.Join(out, "discriminator.onnx")); err != nil || st.Size() == 0 {
		t.Fatalf("discriminator.onnx: %v", err)
	}
	pairs := `{"generation": "the food was lovely and i loved it"}` + "\n" + `{"generation": "the staff was awful and i hated it"}` + "\n"
	goOut, errOut, code := runStdin(t, pairs, "score", "--pairs", "-", dir)
	if code != 0 {
		t.Fatalf("score --pairs: exit %d\n%s", code, errOut)
	}
	ortOut, errOut, code := runStdin(t, pairs, "score", "--onnx", "--pairs", "-", dir)
	if code != 0 || ortOut != goOut {
		t.Fatalf("score --onnx --pairs: exit %d %s\n%s\nwant (Go forward pass)\n%s", code, errOut, ortOut, goOut)
	}
	token := filepath.Join(t.TempDir(), "token")
	if _, errOut, code := run(t, "train", "--preset", "tiny", "--steps", "2", "--quiet", "--out", token); code != 0 {
		t.Fatalf("token run: %s", errOut)
	}
	checkBad(t, []string{"export", "--out", t.TempDir(), token}, "", 2, "not a text run")
}

// TestTextRunExamplesCLI: a text run whose G pre-trains on example prompts
// (--prompt-examples) and whose D reads the task through the target's
// tokenizer (labelled_as_target) trains, resumes and writes prompts of the
// examples' words.
func TestTextRunExamplesCLI(t *testing.T) {
	needORT(t)
	tiny, err := os.ReadFile(textFixture(t, "tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "examples.yaml")
	if err := os.WriteFile(cfg, append(tiny, "mle_steps: 2\nlabelled_as_target: true\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none.txt")
	_, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", tinyGPT2, "--config", cfg,
		"--prompt-examples", missing, "--out", filepath.Join(t.TempDir(), "run"), "--quiet")
	if code != 1 || !strings.Contains(errOut, missing) {
		t.Fatalf("train with missing example prompts: exit %d, want 1 and an error naming %s:\n%s", code, missing, errOut)
	}
	dir := filepath.Join(t.TempDir(), "run")
	examples := textFixture(t, "prompts.txt")
	out, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", tinyGPT2, "--config", cfg,
		"--prompt-examples", examples, "--out", dir, "--quiet")
	if code != 0 || !strings.Contains(out, "finished at step 8") {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code = run(t, "resume", dir, "--steps", "10", "--quiet"); code != 0 || !strings.Contains(out, "finished at step 10") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	words := map[string]bool{}
	raw, err := os.ReadFile(examples)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range strings.Fields(string(raw)) {
		words[w] = true
	}
	out, errOut, code = run(t, "search", "--n", "8", "--top", "3", "--verify", "1", dir)
	if code != 0 {
		t.Fatalf("search: exit %d\n%s", code, errOut)
	}
	_, _, prompts := promptTable(t, out)
	if len(prompts) == 0 {
		t.Fatalf("search printed no prompts:\n%s", out)
	}
	for _, p := range prompts {
		for _, w := range strings.Fields(strings.Trim(p, `"`)) {
			if !words[w] {
				t.Errorf("prompt %s has %q, not a word of the examples", p, w)
			}
		}
	}
}

// TestTrainPromptExamplesByName: `train --prompt-examples instructions`
// works for any text run, as the README says (issue 26: "open
// instructions: no such file or directory"): the English instructions are
// written into the run directory, G's words are theirs, and resume reads
// them back from there.
func TestTrainPromptExamplesByName(t *testing.T) {
	needORT(t)
	tiny, err := os.ReadFile(textFixture(t, "tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "examples.yaml")
	if err := os.WriteFile(cfg, append(tiny, "mle_steps: 2\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", tinyGPT2, "--config", cfg,
		"--prompt-examples", "instructions", "--out", dir, "--quiet")
	if code != 0 || !strings.Contains(out, "finished at step 8") {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "example-prompts.txt"))
	if err != nil {
		t.Fatalf("the run directory lacks the example prompts: %v", err)
	}
	if want := strings.Join(english.ExamplePrompts(), "\n") + "\n"; string(raw) != want {
		t.Fatalf("example-prompts.txt holds %d bytes, not the %d of english.ExamplePrompts", len(raw), len(want))
	}
	if out, errOut, code = run(t, "resume", dir, "--steps", "10", "--quiet"); code != 0 || !strings.Contains(out, "finished at step 10") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestTextRunFlags: the demo's settings are reachable from train (issue
// 26): --mle-steps (which the prompt_examples error names) and
// --labelled-as-target, whose default in a text run is true.
func TestTextRunFlags(t *testing.T) {
	needORT(t)
	configOf := func(dir string) search.Config {
		t.Helper()
		ck, err := checkpoints.Load(filepath.Join(dir, search.CheckpointsDir, "step-0000008"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := search.ConfigOf(ck)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if cfg := configOf(trainText(t, "reviews.jsonl")); !cfg.LabelledAsTarget || cfg.MLESteps != 0 {
		t.Errorf("defaults: labelled_as_target %v, mle_steps %d; want true, 0", cfg.LabelledAsTarget, cfg.MLESteps)
	}
	dir := trainText(t, "reviews.jsonl", "--prompt-examples", textFixture(t, "prompts.txt"), "--mle-steps", "2", "--labelled-as-target=false")
	if cfg := configOf(dir); cfg.LabelledAsTarget || cfg.MLESteps != 2 {
		t.Errorf("flags: labelled_as_target %v, mle_steps %d; want false, 2", cfg.LabelledAsTarget, cfg.MLESteps)
	}
	_, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", tinyGPT2, "--config", textFixture(t, "tiny.yaml"),
		"--prompt-examples", textFixture(t, "prompts.txt"), "--out", filepath.Join(t.TempDir(), "run"), "--quiet")
	if code != 2 || !strings.Contains(errOut, "--mle-steps") {
		t.Errorf("examples without MLE: exit %d, want 2 and an error naming --mle-steps:\n%s", code, errOut)
	}
}

// TestTextReportShowsLearnedPrompts: the end of a text run and `inspect`
// show the learned prompts (the hall of fame's best, with D's score), and
// the call count is a count, not 10240.0000 (issue 26).
func TestTextReportShowsLearnedPrompts(t *testing.T) {
	needORT(t)
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", tinyGPT2,
		"--config", textFixture(t, "tiny.yaml"), "--out", dir)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	if evals := regexp.MustCompile(`msg=eval .* calls=\d+(\s|$)`).FindAllString(errOut, -1); len(evals) != 2 {
		t.Errorf("want 2 evaluation log lines with calls as a whole number:\n%s", errOut)
	}
	hallRow := regexp.MustCompile(`(?m)^  [0-9.]+\s+[0-9.]+\s+\d+\s+".+"$`)
	callsRow := regexp.MustCompile(`(?m)^  calls\s+\d+\s+target calls so far$`)
	for name, text := range map[string]string{"train": out, "inspect": func() string {
		o, e, c := run(t, "inspect", dir)
		if c != 0 {
			t.Fatalf("inspect: exit %d\n%s", c, e)
		}
		return o
	}()} {
		if !strings.Contains(text, "learned prompts (the hall of fame's best 3") || len(hallRow.FindAllString(text, -1)) != 3 {
			t.Errorf("%s shows no learned prompts:\n%s", name, text)
		}
		if !callsRow.MatchString(text) {
			t.Errorf("%s: calls not a whole number:\n%s", name, text)
		}
	}
}
