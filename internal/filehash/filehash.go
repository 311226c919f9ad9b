// Package filehash hashes files for fingerprints: a target model's or a
// text encoder's fingerprint names the SHA-256 of its files, so that a
// ledger or cache never answers for a model whose files changed.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// SHA256 streams the file at path through SHA-256 and returns the hex
// digest.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: read: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
