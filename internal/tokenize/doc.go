// Package tokenize turns text into token ids and back through a Hugging Face
// tokenizer.json, read by github.com/sugarme/tokenizer (pure Go, no Python
// or Rust at run time). It is shared by the ONNX target (targets/onnx) and
// the ONNX sentence encoder (embeddings/onnx).
//
// The library panics on some inputs (lookahead regexes of cl100k- and
// Llama-3-style pre-tokenizers, for one): every call here recovers and
// reports an error naming the file, so a user's tokenizer can never crash
// the process. Padding and truncation settings in tokenizer.json are not
// applied by Encode: callers batch, pad and truncate themselves (PadID and
// EncodeTruncated give them what they need).
package tokenize
