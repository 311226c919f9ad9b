// Command english-tasks writes the built-in English steering tasks
// (audit.Tasks) from the English corpus: one input-free text-task JSONL per
// task in --out, written to a temporary directory renamed when complete.
// scripts/setup-english.sh runs it after building the corpus.
//
//	go run ./audit/cmd/english-tasks --corpus .cache/english/corpus.jsonl --out .cache/english/tasks
package main

import (
	"flag"
	"fmt"
	"os"

	"promptgan/audit"
	"promptgan/english"
)

func main() {
	corpus := flag.String("corpus", ".cache/english/corpus.jsonl", "the English corpus (english.LoadCorpus)")
	out := flag.String("out", ".cache/english/tasks", "directory of the task files (replaced)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "english-tasks: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	docs, err := english.LoadCorpus(*corpus)
	if err != nil {
		fmt.Fprintf(os.Stderr, "english-tasks: %v\n", err)
		os.Exit(1)
	}
	if err := audit.WriteTasks(docs, *out); err != nil {
		fmt.Fprintf(os.Stderr, "english-tasks: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("english-tasks: %d tasks in %s\n", len(audit.Tasks()), *out)
}
