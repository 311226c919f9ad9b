package ledger

import (
	"crypto/sha256"
	"encoding/binary"

	"promptgan/targets/backend"
)

// keyDomain starts every encoded key so that a ledger key can never equal the
// SHA-256 of some other encoding; its version changes whenever the encoding does.
const keyDomain = "promptgan/ledger/key/v1\x00"

// Key returns the ledger key of request r to the model with the given
// fingerprint: the SHA-256 of an unambiguous encoding in which every
// variable-length field carries its length (integers little-endian):
//
//	"promptgan/ledger/key/v1\x00"
//	uint64 len(fingerprint), the fingerprint's bytes
//	uint64 len(r.Prompt),    each prompt token id as int32
//	uint64 len(r.Input),     each input token id as int32
//	uint64 r.Seed
//
// The fingerprint names the model and its decoding settings, so a change of
// either changes every key. Every field of backend.Request is covered; a field
// added to it must be added here, with a new keyDomain version.
func Key(fingerprint string, r backend.Request) [32]byte {
	n := len(keyDomain) + 8 + len(fingerprint) + 8 + 4*len(r.Prompt) + 8 + 4*len(r.Input) + 8
	b := make([]byte, 0, n)
	b = append(b, keyDomain...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(fingerprint)))
	b = append(b, fingerprint...)
	b = appendInt32s(b, r.Prompt)
	b = appendInt32s(b, r.Input)
	b = binary.LittleEndian.AppendUint64(b, r.Seed)
	return sha256.Sum256(b)
}

func appendInt32s(b []byte, v []int32) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}
