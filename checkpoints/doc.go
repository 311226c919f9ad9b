// Package checkpoints defines the on-disk checkpoint format of a training
// run, writes checkpoints atomically and loads them back with full
// verification.
//
// # Layout
//
// A run root holds any number of checkpoint directories plus a pointer file:
//
//	runs/x/
//	    latest                      text file "step-000200\n": the newest complete checkpoint
//	    step-000100/
//	        manifest.json           format version, step, config, RNG states, metrics, file hashes
//	        generator.safetensors   tensors (F32 or I32 only)
//	        halloffame.json         any JSON document
//	    step-000200/
//	        ...
//	    .tmp-step-000300-123456/    a save in progress (or left by a crash); ignored by every reader
//
// manifest.json is the [Manifest] struct. Its "files" object maps every other
// file of the checkpoint (by base name) to the SHA-256 hex digest of its
// bytes. [Load] refuses a checkpoint whose listed files are missing, whose
// bytes do not match their digest, or which holds a .safetensors or .json
// file that the manifest does not list, so a checkpoint is either loaded
// completely and exactly as saved or not at all.
//
// # Atomicity
//
// [Save] builds the checkpoint in a temporary directory next to its final
// place (root/.tmp-NAME-XXXX), fsyncs every file and the directory, then
// renames it to root/NAME and fsyncs root. An existing root/NAME is replaced
// only once the new directory is complete (on Linux with an atomic
// renameat2(RENAME_EXCHANGE), elsewhere by moving the old one aside first).
// Finally root/latest is replaced atomically (write latest.tmp, fsync,
// rename, fsync root). A crash at any point leaves either the old state or
// the new one, plus possibly a dot-prefixed leftover directory that readers
// skip. Concurrent Saves into the same root are not supported.
//
// # Safetensors
//
// Tensor files use the safetensors format: an 8-byte little-endian header
// length N, N bytes of JSON header
//
//	{"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {"k": "v"}}
//
// and then the little-endian data buffer. Only the F32 and I32 dtypes are
// supported. [EncodeSafetensors] is deterministic: identical tensors and
// metadata always give byte-identical files. [DecodeSafetensors] is strict
// and safe on hostile input: any malformation is reported as an error
// wrapping [ErrCorrupt] that names the offending tensor; it never panics and
// never allocates more than the size of its input.
package checkpoints
