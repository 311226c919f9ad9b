#!/usr/bin/env bash
# Fetches the ONNX Runtime 1.24.1 CPU library (libonnxruntime.so.1) into
# .cache/ort/lib from the npm package onnxruntime-node@1.24.1, without running
# its install scripts (they would try to download a CUDA provider from a host
# these machines cannot reach) and without installing anything. internal/ort
# finds it there; a user's own build (e.g. the GPU one) is chosen with
# --ort-lib or $PROMPTGAN_ORT_LIB instead. Instant when already present.
set -u
cd "$(dirname "$0")/.."
version=1.24.1
dest=.cache/ort
lib=$dest/lib
so=$lib/libonnxruntime.so.1
member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [ -s "$so" ]; then
  echo "setup: ONNX Runtime already in $lib"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "setup: npm is not installed; cannot fetch ONNX Runtime $version (install npm, or point --ort-lib / PROMPTGAN_ORT_LIB at a libonnxruntime.so)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --loglevel=error --ignore-scripts "onnxruntime-node@$version" >pack.log 2>&1); then
  echo "setup: npm pack onnxruntime-node@$version failed:" >&2
  sed 's/^/  /' "$tmp/pack.log" >&2
  exit 1
fi
tgz=$(ls "$tmp"/onnxruntime-node-*.tgz 2>/dev/null | head -n 1)
[ -n "$tgz" ] || { echo "setup: npm pack left no onnxruntime-node-*.tgz in $tmp" >&2; exit 1; }
if ! tar -xzf "$tgz" -C "$tmp" "$member"; then
  echo "setup: $tgz has no $member" >&2
  exit 1
fi
[ -s "$tmp/$member" ] || { echo "setup: $member in $tgz is empty" >&2; exit 1; }
mkdir -p "$lib"
# Copy under a temporary name and rename, so an interrupted run never leaves
# a half-written library that the next run would take for a finished one.
cp "$tmp/$member" "$so.part" && mv "$so.part" "$so"
echo "setup: ONNX Runtime $version ready in $lib"
