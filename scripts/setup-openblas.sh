#!/usr/bin/env bash
# Fetches OpenBLAS (Debian's libopenblas0-pthread and the libgfortran5 it
# needs) into .cache/openblas/lib without installing anything system-wide.
# promptgan's matrix multiplies run ~10-40x faster through it than in pure Go;
# without it, the pure-Go build still works. Exits 0 either way and prints
# which one the build will use.
set -u
cd "$(dirname "$0")/.."
dest=.cache/openblas
lib=$dest/lib
if [ -f "$lib/libopenblas.so.0" ]; then
  echo "setup: OpenBLAS already in $lib"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "setup: no apt-get here; building with pure-Go BLAS"; exit 0; }
mkdir -p "$dest/debs" "$dest/root" "$lib"
fetch() { (cd "$dest/debs" && apt-get download libopenblas0-pthread libgfortran5 libquadmath0 >/dev/null 2>&1); }
if ! fetch; then
  # A fresh machine may not have package lists yet.
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1; fi
  fetch || { echo "setup: could not download OpenBLAS from Debian's packages; building with pure-Go BLAS"; rm -rf "$dest"; exit 0; }
fi
for deb in "$dest"/debs/*.deb; do dpkg-deb -x "$deb" "$dest/root"; done
cp -L "$dest"/root/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 "$lib/"
cp -L "$dest"/root/usr/lib/x86_64-linux-gnu/libgfortran.so.5 "$lib/"
cp -L "$dest"/root/usr/lib/x86_64-linux-gnu/libquadmath.so.0 "$lib/" 2>/dev/null || true
rm -rf "$dest/root" "$dest/debs"
echo "setup: OpenBLAS ready in $lib"
