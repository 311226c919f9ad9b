package english

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"promptgan/internal/atomicfile"
)

// The files of a built English directory (.cache/english).
const (
	CorpusFile  = "corpus.jsonl"
	CountsFile  = "COUNTS.md"
	VersionFile = "VERSION" // written last: its presence means the build finished
	TargetDir   = "lm"      // the steerable target LM, Optimum layout
	RefDir      = "ref"     // the reference LM, Optimum layout
)

// BuildOptions say where the inputs are and what to build.
type BuildOptions struct {
	Fortunes    string // directory of fortune files
	Sentiment   string // the sentiment task file (.cache/data/sentiment.jsonl)
	Out         string // the finished directory; built beside it and renamed into place
	Stamp       string // written to VERSION; setup compares it to skip a finished build
	MinPerClass int    // 0 = MinPerClass
	CorpusOnly  bool   // skip the language models
	LM          LMOptions
	Logger      *slog.Logger // nil = slog.Default()
}

// BuildDir builds the corpus (and, unless CorpusOnly, the target and
// reference LMs) into a temporary directory beside opt.Out and renames it
// to opt.Out when everything is written, so an interrupted or failed build
// never leaves a half-built directory where a finished one is expected. An
// existing opt.Out is replaced.
func BuildDir(ctx context.Context, opt BuildOptions) (err error) {
	if opt.Out == "" {
		return errors.New("english build: no output directory")
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if opt.MinPerClass == 0 {
		opt.MinPerClass = MinPerClass
	}
	parent := filepath.Dir(filepath.Clean(opt.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(opt.Out)+".tmp-")
	if err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp's 0700 would hide the cache from other users
		return fmt.Errorf("english build: %w", err)
	}

	docs, err := Build(opt.Fortunes, opt.Sentiment, opt.MinPerClass)
	if err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	var buf bytes.Buffer
	if err := WriteCorpus(&buf, docs); err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(tmp, CorpusFile), buf.Bytes()); err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(tmp, CountsFile), []byte(CountTable(docs))); err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	log.Info("english corpus", "docs", len(docs), "file", filepath.Join(opt.Out, CorpusFile))

	if !opt.CorpusOnly {
		if err := buildLMs(ctx, tmp, docs, opt.LM, log); err != nil {
			return fmt.Errorf("english build: %w", err)
		}
	}

	if err := atomicfile.Write(filepath.Join(tmp, VersionFile), []byte(opt.Stamp+"\n")); err != nil {
		return fmt.Errorf("english build: %w", err)
	}
	// Swap by two renames, so readers of the old build lose it only between them.
	old := tmp + ".old"
	if err := os.Rename(opt.Out, old); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("english build: replace %s: %w", opt.Out, err)
	}
	if err := os.Rename(tmp, opt.Out); err != nil {
		os.Rename(old, opt.Out) // put the previous build back
		return fmt.Errorf("english build: %w", err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("english build: remove the previous build: %w", err)
	}
	return nil
}
