#!/usr/bin/env bash
# One MLE training step of the SeqGAN-shaped generator, three ways, in one run:
# promptgan with OpenBLAS, promptgan in pure Go, and the same graph in gorgonia.
# Run from the repository root after `make setup`: benchmarks/gorgonia-lstm/compare.sh
set -euo pipefail
root=$(pwd)
lib=$root/.cache/openblas/lib
echo "== promptgan generator, OpenBLAS build"
PROMPTGAN_OPENBLAS=$lib go test -tags openblas -run '^$' -bench MLEStep -benchtime 40x ./generator/ | grep Benchmark
echo "== promptgan generator, pure-Go build"
go test -run '^$' -bench MLEStep -benchtime 10x ./generator/ | grep Benchmark
echo "== gorgonia v0.9.18 (float32, graph built once, Adam)"
(cd benchmarks/gorgonia-lstm && go build -o /tmp/gorgonia-lstm-bench . && GOMAXPROCS=2 /tmp/gorgonia-lstm-bench -warmup 2 -steps 20)
