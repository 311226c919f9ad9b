# promptgan — see README.md. `make demo` and `make test` work on a fresh clone.
GO ?= go
OPENBLAS_LIB := $(CURDIR)/.cache/openblas/lib
# Evaluated when a recipe runs (after `setup`): the fast build when setup
# fetched OpenBLAS, the pure-Go build otherwise. The binary loads OpenBLAS
# from the cache directory compiled into it (or $$PROMPTGAN_OPENBLAS).
TAGS = $(shell test -f $(OPENBLAS_LIB)/libopenblas.so.0 && echo "-tags openblas -ldflags=-X=promptgan/internal/nn.openblasDir=$(OPENBLAS_LIB)")

.PHONY: setup english build test test-purego fuzz stress demo bench bench-decode lint clean

setup:
	@./scripts/setup-openblas.sh
	@./scripts/setup-ort.sh
	@./scripts/setup-sentiment.sh
	@./scripts/setup-english.sh
	@./scripts/setup-glove.sh

# The English steering benchmark's target and reference LMs (minutes; make
# setup builds only its corpus and tasks).
english: setup
	@./scripts/setup-english.sh --lms

build: setup
	$(GO) build $(TAGS) -o bin/promptgan ./cmd/promptgan

# The whole suite on the build `make build` uses, then the pure-Go kernels.
test: setup lint
	PROMPTGAN_OPENBLAS=$(OPENBLAS_LIB) $(GO) test $(TAGS) -count=1 ./...
	$(GO) test -count=1 ./internal/nn/ ./generator/ ./search/
	@$(MAKE) --no-print-directory fuzz

# Each fuzz target for FUZZTIME, starting from its committed corpus
# (testdata/fuzz); `make fuzz FUZZTIME=10m` for a long session. The default
# is a count, not a duration: with a duration, `go test -fuzz` sometimes
# fails with "context deadline exceeded" when the time runs out mid-input
# on these 2 cores, which would make CI flaky. 5,000 executions each: the 14
# targets took 4 min 38 s at 20,000 (40% of `make test`), 2 min 30 s at
# 5,000 (most of it building each package for fuzzing and replaying its
# corpus); long searches are for `make fuzz FUZZTIME=10m`.
FUZZTIME ?= 5000x
FUZZ_TARGETS = checkpoints:FuzzLoad checkpoints:FuzzDecodeSafetensors search:FuzzDecodeYAML \
	task:FuzzLoadSequences task:FuzzLoadText metrics:FuzzTruncateAfter targets/ledger:FuzzOpen embeddings/glove:FuzzLoad \
	search:FuzzConfigToRun serve:FuzzDecodeCompletion serve:FuzzDecodeChat serve:FuzzDecodeScorePrompts serve:FuzzDecodeScorePairs serve:FuzzDecodeSearch
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg/ 2>&1); rc=$$?; \
		echo "fuzz $$pkg $$name: $$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -1 | cut -d' ' -f2) executions (-fuzztime $(FUZZTIME))"; \
		if [ $$rc -ne 0 ]; then echo "$$out"; exit 1; fi; \
	done

# The crash-safety harnesses at scale: PROMPTGAN_KILLS SIGKILLs (default 50)
# of `promptgan train`/`resume`, then as many of a process appending to the call ledger.
stress: setup
	@mkdir -p runs
	@PROMPTGAN_KILLS=$${PROMPTGAN_KILLS:-50} PROMPTGAN_OPENBLAS=$(OPENBLAS_LIB) $(GO) test $(TAGS) -count=1 -timeout 90m -v \
		-run '^TestKillResume(Steer)?$$' ./cmd/promptgan/ > runs/stress.log 2>&1; rc=$$?; \
		grep -E 'tally|differs|FAIL|^ok' runs/stress.log; echo "full log: runs/stress.log"; test $$rc -eq 0 || exit $$rc
	@PROMPTGAN_LEDGER_KILLS=$${PROMPTGAN_KILLS:-50} $(GO) test -count=1 -v -run '^TestKill$$' ./targets/ledger/ > runs/stress-ledger.log 2>&1; rc=$$?; \
		grep -E 'kills survived|FAIL|^ok' runs/stress-ledger.log | sed 's/^ */ledger: /'; exit $$rc

# The English demo: the target LM (built once, minutes), then a prompt
# generator for positive reviews against it. The seqgan-oracle demo of
# earlier versions is `promptgan bench seqgan-oracle --quick`.
demo: build
	@./scripts/setup-english.sh --lms
	rm -rf runs/demo
	./bin/promptgan demo --out runs/demo

bench: build
	PROMPTGAN_OPENBLAS=$(OPENBLAS_LIB) $(GO) test $(TAGS) -run '^$$' -bench . -benchtime 20x ./internal/nn/ ./generator/
	rm -rf runs/bench-seqgan-oracle
	./bin/promptgan bench seqgan-oracle --out runs/bench-seqgan-oracle

# Decode throughput of targets/onnx against onnxruntime-node on the same ONNX
# files, side by side (benchmarks/decode-throughput/README.md).
bench-decode: build
	benchmarks/decode-throughput/compare.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin runs
