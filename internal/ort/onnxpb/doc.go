// Package onnxpb holds the Go types of the ONNX model format (ModelProto,
// GraphProto, NodeProto, TensorProto, …), generated from onnx.proto of
// ONNX 1.12 (IR version 8) by generate.sh. internal/ort builds graphs with
// them and serialises them with google.golang.org/protobuf/proto.
package onnxpb

//go:generate ./generate.sh
