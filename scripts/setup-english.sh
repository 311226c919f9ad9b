#!/usr/bin/env bash
# Builds promptgan's English steering benchmark into .cache/english: the
# corpus (Debian's fortunes 1:1.99.1-7.3 topic files + the UCI review
# sentences of .cache/data/sentiment.jsonl, so setup-sentiment.sh runs
# first) and the language models trained on it, by
# `go run ./english/cmd/build-english`. The package is fetched with
# `apt-get download` (no system install), or taken from the file
# $PROMPTGAN_FORTUNES_DEB, and checked against its SHA-256.
# The builder writes into a temporary directory renamed into place when
# complete, so an interrupted setup never leaves a half-built model; the
# VERSION stamp, written last, makes a finished build instant to skip.
set -u
cd "$(dirname "$0")/.."
pkg=fortunes
version=1:1.99.1-7.3
sha=41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5
# Bump the trailing number when the builder's output changes.
full_stamp="promptgan-english $pkg=$version 4"
corpus_stamp="$full_stamp corpus-only"
out=.cache/english
# Without --lms only the corpus and the task files are built (seconds; what
# make setup and the tests need); --lms (make english) also trains the target
# and reference LMs (minutes; the steerability benchmark needs them).
lms=0
case "${1:-}" in
  --lms) lms=1 ;;
  "") ;;
  *) echo "usage: scripts/setup-english.sh [--lms]" >&2; exit 2 ;;
esac
stamp=$corpus_stamp
[ $lms = 1 ] && stamp=$full_stamp
# The task files come from the corpus; written after every build (a build
# replaces the whole directory) and whenever they are missing.
tasks() {
  [ -d "$out/tasks" ] && return 0
  go run ./audit/cmd/english-tasks --corpus "$out/corpus.jsonl" --out "$out/tasks" || exit 1
}
have=$(cat "$out/VERSION" 2>/dev/null)
if [ "$have" = "$full_stamp" ] || { [ $lms = 0 ] && [ "$have" = "$corpus_stamp" ]; }; then
  tasks
  if [ "$have" = "$full_stamp" ]; then echo "setup: English corpus, tasks and LMs already in $out"; else echo "setup: English corpus and tasks already in $out (the LMs: make english)"; fi
  exit 0
fi
[ -s .cache/data/sentiment.jsonl ] || { echo "setup: .cache/data/sentiment.jsonl is missing: run scripts/setup-sentiment.sh (or make setup) first" >&2; exit 1; }
for tool in apt-get dpkg-deb sha256sum go; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool is not installed; cannot build the English corpus (it needs Debian's apt-get and dpkg-deb for the $pkg package, and Go)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() { (cd "$tmp" && apt-get download "$pkg=$version" >"$tmp/apt.log" 2>&1); }
if [ -n "${PROMPTGAN_FORTUNES_DEB:-}" ]; then
  # A copy of the package fetched elsewhere (offline machines); still checked below.
  cp "$PROMPTGAN_FORTUNES_DEB" "$tmp/" || { echo "setup: cannot read PROMPTGAN_FORTUNES_DEB=$PROMPTGAN_FORTUNES_DEB" >&2; exit 1; }
elif ! fetch; then
  # A fresh machine may not have package lists yet.
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1; fi
  if ! fetch; then
    echo "setup: apt-get download $pkg=$version failed (Debian bookworm's package; check the network and apt sources, then rerun make setup):" >&2
    sed 's/^/  /' "$tmp/apt.log" >&2
    exit 1
  fi
fi
deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "setup: apt-get download $pkg=$version left no .deb in $tmp" >&2; exit 1; }
got=$(sha256sum "$deb" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "setup: $(basename "$deb") has SHA-256 $got, want $sha: not the $pkg $version this benchmark was built from; check your apt sources" >&2
  exit 1
fi
if ! dpkg-deb -x "$deb" "$tmp/root" 2>"$tmp/dpkg.log"; then
  echo "setup: cannot unpack $(basename "$deb"):" >&2
  sed 's/^/  /' "$tmp/dpkg.log" >&2
  exit 1
fi
# The fast BLAS build when setup-openblas.sh fetched it (training the LMs
# takes minutes in it), the pure-Go one otherwise.
ob=$PWD/.cache/openblas/lib
flags=()
if [ -f "$ob/libopenblas.so.0" ]; then
  export PROMPTGAN_OPENBLAS=$ob
  flags=(-tags openblas "-ldflags=-X=promptgan/internal/nn.openblasDir=$ob")
fi
start=$(date +%s)
what="corpus"; only=(--corpus-only)
[ $lms = 1 ] && { what="corpus and LMs (a few minutes)"; only=(); }
echo "setup: building the English $what into $out…"
go run "${flags[@]}" ./english/cmd/build-english --fortunes "$tmp/root/usr/share/games/fortunes" \
  --sentiment .cache/data/sentiment.jsonl --out "$out" --stamp "$stamp" "${only[@]}" || exit 1
tasks
echo "setup: English $what ready in $out ($(( $(date +%s) - start )) s)"
