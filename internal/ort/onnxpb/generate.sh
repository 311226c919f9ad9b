#!/usr/bin/env bash
# Regenerates onnx.pb.go, the Go types of the ONNX model format, from the
# onnx.proto that Debian's libonnx-dev ships (ONNX 1.12, IR version 8),
# compiled with Debian's protoc and google.golang.org/protobuf's protoc-gen-go.
# Nothing is installed system-wide: the .deb files are unpacked in a temp dir.
# Run from anywhere: internal/ort/onnxpb/generate.sh (or go generate ./internal/ort/onnxpb).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
protoc_gen_go_version=v1.36.12 # keep equal to google.golang.org/protobuf in go.mod
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/debs" "$tmp/root" "$tmp/bin"
(cd "$tmp/debs" && apt-get download libonnx-dev protobuf-compiler libprotoc32 libprotobuf32 >/dev/null 2>&1) || {
  echo "generate: apt-get download of libonnx-dev/protobuf-compiler failed (try apt-get update first)" >&2
  exit 1
}
for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
proto_dir=$tmp/root/usr/include/onnx
[ -f "$proto_dir/onnx.proto" ] || { echo "generate: libonnx-dev has no usr/include/onnx/onnx.proto" >&2; exit 1; }
GOBIN=$tmp/bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protoc_gen_go_version"
LD_LIBRARY_PATH=$tmp/root/usr/lib/x86_64-linux-gnu PATH=$tmp/bin:$PATH \
  "$tmp/root/usr/bin/protoc" -I "$proto_dir" \
  --go_out="$tmp" --go_opt=paths=source_relative \
  --go_opt=Monnx.proto=promptgan/internal/ort/onnxpb \
  onnx.proto
cp "$tmp/onnx.pb.go" "$here/onnx.pb.go"
echo "generate: wrote $here/onnx.pb.go"
