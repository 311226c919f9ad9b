#!/usr/bin/env bash
# Decode throughput of promptgan's targets/onnx (Go, `promptgan bench decode`)
# against peer.js (Node.js, onnxruntime-node 1.24.1) on the same ONNX files,
# side by side in one run: both sides load the same libonnxruntime.so.1
# build, use the same intra-op thread count, decode the same contexts
# greedily, and must produce identical tokens.
#
# Usage, from anywhere:
#
#   benchmarks/decode-throughput/compare.sh [MODEL_DIR...]
#
# Without MODEL_DIR: the committed tiny GPT-2 fixtures (KV cache and plain),
# the bench-size GPT-2 (KV cache) and the SeqGAN oracle LSTM (stateful),
# exported by ./export. Each model is run ROUNDS times by each side,
# alternating which side goes first; the table (report.js) gives the median
# tokens/s of each side's rounds and the median and range of the per-round
# ratios Go/Node. The script fails when the two sides' tokens differ.
# Settings (environment): THREADS (2), ROUNDS (3),
# REPEATS (5 timed decodes per batch and round, after 1 warm-up),
# BATCHES (1,32), NEW_TOKENS (32), PROMPT_LEN (4), SEED (1).
# Everything is written under benchmarks/decode-throughput/out/<time>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=benchmarks/decode-throughput
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
REPEATS=${REPEATS:-5}
BATCHES=${BATCHES:-1,32}
NEW_TOKENS=${NEW_TOKENS:-32}
PROMPT_LEN=${PROMPT_LEN:-4}
SEED=${SEED:-1}
out=$here/out/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

make build >/dev/null
scripts/setup-node-peer.sh
export NODE_PATH=$PWD/.cache/node-peer/node_modules

if [ $# -gt 0 ]; then
  models=("$@")
else
  echo "exporting the bench GPT-2 and the oracle LSTM into $out/models"
  go run ./$here/export "$out/models"
  models=(internal/ort/export/testdata/tiny-gpt2 internal/ort/export/testdata/tiny-gpt2-no-past "$out/models/bench-gpt2" "$out/models/lstm-oracle")
fi

go_lib=$(./bin/promptgan doctor --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).library))')
node_lib=$NODE_PATH/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
{
  echo "date       $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu        $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "go         $(go version | cut -d' ' -f3), node $(node --version)"
  echo "settings   threads $THREADS, rounds $ROUNDS, $REPEATS timed decodes after 1 warm-up, batches $BATCHES, $NEW_TOKENS new tokens, $PROMPT_LEN-token prompts, seed $SEED"
  echo "go lib     $(sha256sum "$go_lib" | cut -c1-16)… $go_lib"
  echo "node lib   $(sha256sum "$node_lib" | cut -c1-16)… $node_lib"
  echo "load       $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before"
} | tee "$out/machine.txt"

run_go() { # model dir, round
  ./bin/promptgan bench decode --model "$1" --batch "$BATCHES" --new-tokens "$NEW_TOKENS" --prompt-len "$PROMPT_LEN" \
    --repeats "$REPEATS" --warmup 1 --seed "$SEED" --threads "$THREADS" --device cpu --json \
    --prompts-out "$d/task.json" --tokens-out "$d/go-r$2.tokens" > "$d/go-r$2.json"
}
run_node() { # model dir, round
  node "$here/peer.js" --task "$d/task.json" --tokens-out "$d/node-r$2.tokens" > "$d/node-r$2.json"
}

differ=0
for m in "${models[@]}"; do
  name=$(basename "$m")
  d=$out/runs/$name
  mkdir -p "$d"
  echo "$name: $ROUNDS rounds"
  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then run_go "$m" "$r"; run_node "$m" "$r"
    else run_node "$m" "$r"; run_go "$m" "$r"; fi
    if ! diff "$d/go-r$r.tokens" "$d/node-r$r.tokens" > "$d/diff-r$r.txt"; then
      echo "  round $r: Go and Node tokens differ ($d/diff-r$r.txt):"
      head -n 6 "$d/diff-r$r.txt" | sed 's/^/    /'
      differ=1
    fi
  done
done
echo "load       $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) after" | tee -a "$out/machine.txt"
echo
node "$here/report.js" "$out/runs" | tee "$out/table.md"
exit $differ
