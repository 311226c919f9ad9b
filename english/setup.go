package english

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"promptgan/generator"
	"promptgan/internal/atomicfile"
	"promptgan/internal/cache"
)

// CorpusPath returns path, or the setup cache's English corpus when it is
// empty.
func CorpusPath(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	return cache.Find("english/"+CorpusFile, "the English corpus", "make setup")
}

// LMDir returns dir, or the setup cache's English target LM directory when
// it is empty.
func LMDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	p, err := cache.Find("english/lm/model.onnx", "the English target LM", "make english")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// RefLMDir returns the setup cache's English reference LM directory.
func RefLMDir() (string, error) {
	p, err := cache.Find("english/"+RefDir+"/"+WeightsFile, "the English reference LM", "make english")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// TasksDir returns dir, or the setup cache's directory of English task
// files (TASK.jsonl) when it is empty.
func TasksDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	p, err := cache.Find("english/tasks/positive-reviews.jsonl", "the English task files", "make setup")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// ExamplesInstructions names ExamplePrompts where example prompts are
// given by name (--prompt-examples).
const ExamplesInstructions = "instructions"

// ExamplesFile resolves an example-prompts value: "" none,
// ExamplesInstructions the ExamplePrompts written to dir/example-prompts.txt
// (so that a run directory holds the examples its checkpoints name), else
// a file of example prompts, checked here.
func ExamplesFile(spec, dir string) (string, error) {
	switch spec {
	case "":
		return "", nil
	case ExamplesInstructions:
		path := filepath.Join(dir, "example-prompts.txt")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := atomicfile.Write(path, []byte(strings.Join(ExamplePrompts(), "\n")+"\n")); err != nil {
			return "", fmt.Errorf("write the example prompts: %w", err)
		}
		return path, nil
	}
	if _, err := generator.LoadExamples(spec); err != nil {
		return "", fmt.Errorf("--prompt-examples: %w", err)
	}
	return spec, nil
}
