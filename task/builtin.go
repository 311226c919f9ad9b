package task

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"promptgan/internal/cache"
)

// BuiltinSentiment names the built-in real-text task: the UCI Sentiment
// Labelled Sentences (3,000 review sentences from Amazon, IMDb and Yelp,
// input-free, good = positive; CC BY 4.0, Kotzias et al. 2015), which
// `make setup` (scripts/setup-sentiment.sh) writes to the setup cache.
const BuiltinSentiment = "sentiment"

// EnglishTaskNames lists the built-in English steering tasks, which `make
// setup` writes to english/tasks/<name>.jsonl in the setup cache from the
// English corpus (audit.WriteTasks; audit.Tasks says what each one is).
func EnglishTaskNames() []string {
	return []string{"positive-reviews", "negative-reviews", "definitions", "love", "computers"}
}

// builtinFile returns a built-in task's file, relative to the setup cache.
func builtinFile(name string) (string, bool) {
	switch {
	case name == BuiltinSentiment:
		return "data/sentiment.jsonl", true
	case slices.Contains(EnglishTaskNames(), name):
		return "english/tasks/" + name + ".jsonl", true
	}
	return "", false
}

// Resolve turns a --task value into a file path: a built-in task's name
// becomes its file in the setup cache (an error says to run `make setup` when
// it is missing); anything else is taken as a path and returned as given. A
// file that happens to share a built-in name is reached as ./sentiment.
func Resolve(nameOrPath string) (string, error) {
	if nameOrPath == "" {
		return "", fmt.Errorf("no task given: name a task file (JSONL) or a built-in task: %q, %s", BuiltinSentiment, strings.Join(EnglishTaskNames(), ", "))
	}
	rel, ok := builtinFile(nameOrPath)
	if !ok {
		if _, err := os.Stat(nameOrPath); errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\.`) {
			// A bare name that is no file is most likely a misspelt
			// built-in: say both (a path is kept, and reading it fails).
			return "", fmt.Errorf("task %s: no such file, nor a built-in task (%q, %s)", nameOrPath, BuiltinSentiment, strings.Join(EnglishTaskNames(), ", "))
		}
		return nameOrPath, nil
	}
	path, err := cache.Find(rel, fmt.Sprintf("built-in task %q", nameOrPath), "make setup")
	if err != nil {
		return "", fmt.Errorf("resolve task: %w", err)
	}
	return path, nil
}
