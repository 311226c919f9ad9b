// Package ort is promptgan's door to ONNX Runtime: it finds the shared
// library (--ort-lib, then $PROMPTGAN_ORT_LIB, then the cache that
// scripts/setup-ort.sh fills), loads it once per process, opens sessions on
// the CPU or CUDA execution provider, runs models with named float32/int64
// tensors of any shape, reports what the library offers (Doctor), and writes
// ONNX models from Go (Graph, built on the generated types in onnxpb).
//
// ONNX Runtime keeps one environment per process (github.com/yalue/onnxruntime_go
// holds it in package-level state and refuses a second initialisation), so the
// library is loaded by Load behind a mutex and never unloaded; every Session
// shares it. Loading a second, different library in the same process is an
// error, not a silent reuse of the first.
package ort
