package backend

import "promptgan/internal/filehash"

// FileSHA256 is [filehash.SHA256]: the hex SHA-256 of the file at path, what
// backends put in their fingerprints, so that a ledger never answers a call
// for a model whose files changed. Kept for search's callers; new code calls
// filehash.SHA256.
func FileSHA256(path string) (string, error) { return filehash.SHA256(path) }
