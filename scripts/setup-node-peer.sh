#!/usr/bin/env bash
# Installs onnxruntime-node 1.24.1, pinned by benchmarks/decode-throughput/
# package.json and package-lock.json, into .cache/node-peer for the Node.js
# peer of the decode-throughput benchmark (peer.js runs with
# NODE_PATH=.cache/node-peer/node_modules). Install scripts are not run: the
# package's own would try to download a CUDA provider from a host these
# machines cannot reach, and the CPU binding and libonnxruntime.so.1 are in
# the tarball already. Instant when already installed.
set -u
cd "$(dirname "$0")/.."
version=1.24.1
src=benchmarks/decode-throughput
dest=.cache/node-peer
installed=$dest/node_modules/onnxruntime-node/package.json
if [ -s "$installed" ] && grep -q "\"version\": \"$version\"" "$installed" \
  && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
  echo "setup: onnxruntime-node $version already in $dest"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "setup: npm is not installed; the Node.js peer of the decode benchmark needs Node.js 18+ and npm" >&2; exit 1; }
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
if ! (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund >npm.log 2>&1); then
  echo "setup: npm ci --ignore-scripts in $dest failed:" >&2
  sed 's/^/  /' "$dest/npm.log" >&2
  rm -f "$dest/package-lock.json" # not installed: the next run tries again
  exit 1
fi
echo "setup: onnxruntime-node $version ready in $dest"
