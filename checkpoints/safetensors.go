package checkpoints

// The safetensors codec is written here rather than taken from
// github.com/nlpodyssey/safetensors because that decoder is not strict
// enough for our reliability requirements:
//   - its shape/offset mismatch error ("info data offsets mismatch") does not
//     name the tensor, the shape or the byte counts;
//   - it decodes the header into Go maps, so duplicate tensor names or
//     duplicate keys are silently resolved last-one-wins instead of being
//     rejected;
//   - it accepts every dtype and exposes raw bytes, while we only support F32
//     and I32 and want typed slices;
//   - DType.Size and DType.String panic on out-of-range values.
// The decoder below validates the whole header before allocating anything,
// so the memory it allocates is bounded by the size of its input.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"

	"promptgan/internal/atomicfile"
)

// MaxHeaderSize is the largest safetensors JSON header accepted (100 MiB).
const MaxHeaderSize = 100 << 20

const metadataKey = "__metadata__"

// Tensor is one named array in a safetensors file. Exactly one of F32, I32 is non-nil.
type Tensor struct {
	Shape []int
	F32   []float32
	I32   []int32
}

// F32Tensor returns a float32 tensor. A nil data slice is replaced by an empty one
// so that the result is always a valid F32 tensor.
func F32Tensor(shape []int, data []float32) Tensor {
	if data == nil {
		data = []float32{}
	}
	return Tensor{Shape: shape, F32: data}
}

// I32Tensor returns an int32 tensor. A nil data slice is replaced by an empty one
// so that the result is always a valid I32 tensor.
func I32Tensor(shape []int, data []int32) Tensor {
	if data == nil {
		data = []int32{}
	}
	return Tensor{Shape: shape, I32: data}
}

// DType returns "F32" or "I32", or "" when the tensor is invalid (both or neither set).
func (t Tensor) DType() string {
	switch {
	case t.F32 != nil && t.I32 == nil:
		return "F32"
	case t.I32 != nil && t.F32 == nil:
		return "I32"
	}
	return ""
}

// Len returns the number of elements stored in the tensor.
func (t Tensor) Len() int {
	if t.F32 != nil {
		return len(t.F32)
	}
	return len(t.I32)
}

// corruptError is a malformation or damage found while loading. It matches
// ErrCorrupt (and its cause, if any) under errors.Is without adding the
// sentinel's text to the message.
type corruptError struct {
	msg   string
	cause error // optional underlying error, e.g. fs.ErrNotExist
}

func (e *corruptError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *corruptError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrCorrupt, e.cause}
	}
	return []error{ErrCorrupt}
}

func corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}

// shapeElems returns the number of elements of shape, or an error if a dim
// is negative or the product (times 4 bytes) overflows int64.
func shapeElems(shape []int) (int64, error) {
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has negative dim %d at index %d", shape, d, i)
		}
	}
	if slices.Contains(shape, 0) {
		return 0, nil
	}
	const maxElems = math.MaxInt64 / 4
	n := int64(1)
	for _, d := range shape {
		if int64(d) > maxElems/n {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// checkString rejects names that JSON cannot carry faithfully (invalid UTF-8
// would be replaced by U+FFFD, so two names could collide).
func checkString(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	return nil
}

// EncodeSafetensors encodes tensors and metadata as a safetensors file.
// Tensors are laid out in sorted name order and the header is built
// deterministically (sorted keys, padded with spaces to a multiple of 8
// bytes), so identical inputs give byte-identical output. Metadata is
// written only when non-empty.
func EncodeSafetensors(tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	slices.Sort(names)

	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
	}
	writeString := func(s string) {
		b, _ := json.Marshal(s) // cannot fail for a string
		hdr.Write(b)
	}
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if err := checkString("metadata key", k); err != nil {
				return nil, err
			}
			if err := checkString("metadata value", v); err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		comma()
		writeString(metadataKey)
		hdr.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			writeString(k)
			hdr.WriteByte(':')
			writeString(metadata[k])
		}
		hdr.WriteByte('}')
	}
	var offset int64
	for _, name := range names {
		t := tensors[name]
		if name == metadataKey {
			return nil, fmt.Errorf("tensor name %q is reserved", name)
		}
		if err := checkString("tensor name", name); err != nil {
			return nil, err
		}
		dtype := t.DType()
		if dtype == "" {
			return nil, fmt.Errorf("tensor %q: exactly one of F32 and I32 must be non-nil", name)
		}
		n, err := shapeElems(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if n != int64(t.Len()) {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d elements, data has %d", name, t.Shape, n, t.Len())
		}
		comma()
		writeString(name)
		fmt.Fprintf(&hdr, `:{"dtype":"%s","shape":[`, dtype)
		for i, d := range t.Shape {
			if i > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, offset+4*n)
		offset += 4 * n
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}

	out := make([]byte, 0, 8+int64(hdr.Len())+offset)
	out = binary.LittleEndian.AppendUint64(out, uint64(hdr.Len()))
	out = append(out, hdr.Bytes()...)
	for _, name := range names {
		t := tensors[name]
		if t.F32 != nil {
			for _, v := range t.F32 {
				out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
			}
		} else {
			for _, v := range t.I32 {
				out = binary.LittleEndian.AppendUint32(out, uint32(v))
			}
		}
	}
	return out, nil
}

// WriteSafetensors encodes tensors and metadata with EncodeSafetensors and
// writes the result to path (created or truncated, then fsynced). It is not
// atomic; use Save for checkpoints.
func WriteSafetensors(path string, tensors map[string]Tensor, metadata map[string]string) error {
	b, err := EncodeSafetensors(tensors, metadata)
	if err != nil {
		return fmt.Errorf("write safetensors %s: %w", path, err)
	}
	if err := atomicfile.WriteSync(path, b); err != nil {
		return fmt.Errorf("write safetensors %s: %w", path, err)
	}
	return nil
}

// ReadSafetensors reads and strictly decodes the safetensors file at path.
func ReadSafetensors(path string) (map[string]Tensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read safetensors: %w", err)
	}
	t, m, err := DecodeSafetensors(b)
	if err != nil {
		return nil, nil, fmt.Errorf("read safetensors %s: %w", path, err)
	}
	return t, m, nil
}

// objectEntry is one key/value pair of a JSON object, in source order.
type objectEntry struct {
	key string
	raw json.RawMessage
}

// decodeObject parses b as a single JSON object (surrounding whitespace
// allowed) and returns its entries in order, rejecting duplicate keys.
func decodeObject(b []byte) ([]objectEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var entries []objectEntry
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("invalid JSON: object key is %v", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON: value of %q: %v", key, err)
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		entries = append(entries, objectEntry{key, raw})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: trailing data after the object")
	}
	return entries, nil
}

// parseIntArray parses raw as a JSON array of integers (no fractions or exponents).
func parseIntArray(raw json.RawMessage) ([]int64, error) {
	var nums []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&nums); err != nil || nums == nil {
		return nil, fmt.Errorf("is not an array of integers: %s", truncate(raw))
	}
	out := make([]int64, len(nums))
	for i, n := range nums {
		v, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("element %d (%s) is not a 64-bit integer", i, truncate([]byte(n.String())))
		}
		out[i] = v
	}
	return out, nil
}

func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

type tensorInfo struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

func parseTensorInfo(name string, raw json.RawMessage, bufLen int64) (tensorInfo, error) {
	ti := tensorInfo{name: name}
	fields, err := decodeObject(raw)
	if err != nil {
		return ti, corruptf("tensor %q: header entry: %v", name, err)
	}
	var haveDType, haveShape, haveOffsets bool
	for _, f := range fields {
		switch f.key {
		case "dtype":
			haveDType = true
			if err := json.Unmarshal(f.raw, &ti.dtype); err != nil {
				return ti, corruptf("tensor %q: dtype is not a string: %s", name, truncate(f.raw))
			}
			if ti.dtype != "F32" && ti.dtype != "I32" {
				return ti, corruptf("tensor %q: unsupported dtype %q (only F32 and I32 are supported)", name, ti.dtype)
			}
		case "shape":
			haveShape = true
			dims, err := parseIntArray(f.raw)
			if err != nil {
				return ti, corruptf("tensor %q: shape %v", name, err)
			}
			ti.shape = make([]int, len(dims))
			for i, d := range dims {
				if int64(int(d)) != d {
					return ti, corruptf("tensor %q: shape dim %d does not fit in int", name, d)
				}
				ti.shape[i] = int(d)
			}
		case "data_offsets":
			haveOffsets = true
			offs, err := parseIntArray(f.raw)
			if err != nil {
				return ti, corruptf("tensor %q: data_offsets %v", name, err)
			}
			if len(offs) != 2 {
				return ti, corruptf("tensor %q: data_offsets has %d elements, want 2", name, len(offs))
			}
			ti.begin, ti.end = offs[0], offs[1]
		default:
			return ti, corruptf("tensor %q: unknown header field %q", name, f.key)
		}
	}
	switch {
	case !haveDType:
		return ti, corruptf("tensor %q: missing dtype", name)
	case !haveShape:
		return ti, corruptf("tensor %q: missing shape", name)
	case !haveOffsets:
		return ti, corruptf("tensor %q: missing data_offsets", name)
	}
	if ti.begin < 0 || ti.end < ti.begin || ti.end > bufLen {
		return ti, corruptf("tensor %q: data_offsets [%d %d] out of range for a %d-byte data buffer", name, ti.begin, ti.end, bufLen)
	}
	n, err := shapeElems(ti.shape)
	if err != nil {
		return ti, corruptf("tensor %q: %v", name, err)
	}
	if 4*n != ti.end-ti.begin {
		return ti, corruptf("tensor %q: shape %v needs %d bytes, data_offsets give %d", name, ti.shape, 4*n, ti.end-ti.begin)
	}
	return ti, nil
}

// DecodeSafetensors strictly decodes a whole safetensors file held in b.
// Every malformation gives an error wrapping ErrCorrupt; the function never
// panics and allocates at most about len(b) bytes for tensor data. The
// returned metadata is nil when the file has no "__metadata__" entry.
func DecodeSafetensors(b []byte) (map[string]Tensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, corruptf("file is %d bytes, too short for the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeaderSize {
		return nil, nil, corruptf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, nil, corruptf("header length %d exceeds the %d bytes after the length prefix (truncated file?)", n, len(b)-8)
	}
	header := b[8 : 8+n]
	buf := b[8+n:]
	bufLen := int64(len(buf))

	entries, err := decodeObject(header)
	if err != nil {
		return nil, nil, corruptf("header: %v", err)
	}
	var metadata map[string]string
	infos := make([]tensorInfo, 0, len(entries))
	for _, e := range entries {
		if e.key == metadataKey {
			fields, err := decodeObject(e.raw)
			if err != nil {
				return nil, nil, corruptf("header: %s: %v", metadataKey, err)
			}
			metadata = make(map[string]string, len(fields))
			for _, f := range fields {
				var s string
				if err := json.Unmarshal(f.raw, &s); err != nil {
					return nil, nil, corruptf("header: %s: value of %q is not a string: %s", metadataKey, f.key, truncate(f.raw))
				}
				metadata[f.key] = s
			}
			continue
		}
		ti, err := parseTensorInfo(e.key, e.raw, bufLen)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, ti)
	}

	// The tensors must tile the data buffer exactly: sorted by offset, each
	// begins where the previous one ends, the first at 0, the last at the end.
	slices.SortFunc(infos, func(a, b tensorInfo) int {
		if a.begin != b.begin {
			return cmpInt64(a.begin, b.begin)
		}
		if a.end != b.end {
			return cmpInt64(a.end, b.end)
		}
		if a.name < b.name {
			return -1
		}
		return 1
	})
	var pos int64
	prev := ""
	for _, ti := range infos {
		switch {
		case ti.begin < pos:
			return nil, nil, corruptf("tensor %q: data_offsets [%d %d] overlap tensor %q ending at %d", ti.name, ti.begin, ti.end, prev, pos)
		case ti.begin > pos:
			return nil, nil, corruptf("tensor %q: data_offsets [%d %d] leave a gap of %d unused bytes at %d", ti.name, ti.begin, ti.end, ti.begin-pos, pos)
		}
		pos = ti.end
		prev = ti.name
	}
	if pos != bufLen {
		return nil, nil, corruptf("data buffer has %d bytes but tensors cover only %d", bufLen, pos)
	}

	tensors := make(map[string]Tensor, len(infos))
	for _, ti := range infos {
		data := buf[ti.begin:ti.end]
		count := len(data) / 4
		switch ti.dtype {
		case "F32":
			v := make([]float32, count)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			}
			tensors[ti.name] = Tensor{Shape: ti.shape, F32: v}
		case "I32":
			v := make([]int32, count)
			for i := range v {
				v[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
			}
			tensors[ti.name] = Tensor{Shape: ti.shape, I32: v}
		}
	}
	return tensors, metadata, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
