// Command build-english builds promptgan's English steering benchmark into a
// cache directory: the corpus from Debian's fortunes files and the UCI review
// sentences, and the language models trained on it. scripts/setup-english.sh
// runs it; see package english.
//
//	go run ./english/cmd/build-english --fortunes DIR --sentiment FILE --out DIR --stamp S
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"promptgan/english"
)

func main() {
	fs := flag.NewFlagSet("build-english", flag.ContinueOnError)
	opt := english.BuildOptions{LM: english.DefaultLMOptions()}
	fs.StringVar(&opt.Fortunes, "fortunes", "", "directory of the fortunes package's files (usr/share/games/fortunes); required")
	fs.StringVar(&opt.Sentiment, "sentiment", ".cache/data/sentiment.jsonl", "the sentiment task file")
	fs.StringVar(&opt.Out, "out", ".cache/english", "output directory (replaced when the build completes)")
	fs.StringVar(&opt.Stamp, "stamp", "", "version stamp written to VERSION; required")
	fs.IntVar(&opt.LM.Epochs, "epochs", opt.LM.Epochs, "the target LM's epochs")
	fs.IntVar(&opt.LM.Hidden, "hidden", opt.LM.Hidden, "the target LM's LSTM width")
	fs.IntVar(&opt.LM.Emb, "emb", opt.LM.Emb, "the target LM's embedding width")
	fs.IntVar(&opt.LM.RefEpochs, "ref-epochs", opt.LM.RefEpochs, "the reference LM's epochs")
	fs.IntVar(&opt.LM.RefHidden, "ref-hidden", opt.LM.RefHidden, "the reference LM's LSTM width")
	fs.IntVar(&opt.LM.Batch, "batch", opt.LM.Batch, "sequences per training step")
	fs.Float64Var(&opt.LM.LR, "lr", opt.LM.LR, "Adam's learning rate")
	fs.Uint64Var(&opt.LM.Seed, "seed", opt.LM.Seed, "seed of the LMs' weights and data order")
	fs.Float64Var(&opt.LM.WordDropout, "word-dropout", opt.LM.WordDropout, "share of the target LM's text tokens read as <unk>")
	fs.BoolVar(&opt.LM.Balance, "balance", opt.LM.Balance, "give every class the same number of the target LM's documents each epoch")
	fs.Float64Var(&opt.LM.EmptyShare, "empty-share", opt.LM.EmptyShare, "share of the target LM's documents with no instruction")
	fs.Float64Var(&opt.LM.VagueShare, "vague-share", opt.LM.VagueShare, "share with a vague instruction")
	fs.Float64Var(&opt.LM.MisleadShare, "mislead-share", opt.LM.MisleadShare, "share with another class's instruction")
	fs.BoolVar(&opt.CorpusOnly, "corpus-only", false, "build the corpus only, no LMs")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if opt.Fortunes == "" || opt.Stamp == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "build-english: --fortunes DIR and --stamp S are required, and no arguments are taken")
		fs.Usage()
		os.Exit(2)
	}
	opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := english.BuildDir(ctx, opt); err != nil {
		fmt.Fprintln(os.Stderr, "build-english:", err)
		os.Exit(1)
	}
}
