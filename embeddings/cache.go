package embeddings

import (
	"container/list"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
)

// Cache is a content-addressed cache in front of an Encoder: the key of a
// text is SHA-256(fingerprint, text), so entries can never be served for a
// different encoder or settings. It holds at most maxEntries vectors,
// evicting the least recently used; it is safe for concurrent use; Encode
// sends only the misses to the encoder, each distinct text once, in one
// batch. *Cache implements Encoder.
type Cache struct {
	enc    Encoder
	max    int
	prefix []byte // the fingerprint, length-prefixed

	mu           sync.Mutex
	entries      map[[sha256.Size]byte]*list.Element
	lru          *list.List // front = most recently used; values are *cacheEntry
	hits, misses int
}

type cacheEntry struct {
	key [sha256.Size]byte
	vec []float32
}

// NewCache puts a cache of at most maxEntries vectors in front of enc
// (maxEntries < 1 is taken as 1).
func NewCache(enc Encoder, maxEntries int) *Cache {
	fp := enc.Fingerprint()
	prefix := fmt.Appendf(nil, "%d:%s", len(fp), fp)
	return &Cache{
		enc: enc, max: max(maxEntries, 1), prefix: prefix,
		entries: map[[sha256.Size]byte]*list.Element{}, lru: list.New(),
	}
}

// Dim is the encoder's dimension.
func (c *Cache) Dim() int { return c.enc.Dim() }

// Fingerprint is the encoder's: a cache never changes a vector.
func (c *Cache) Fingerprint() string { return c.enc.Fingerprint() }

// Stats reports how many texts were served from the cache and how many were
// not, since the cache was made (a text repeated in one batch of misses
// counts each time, though it is encoded once).
func (c *Cache) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Len is the number of vectors held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) key(text string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.prefix)
	h.Write([]byte(text))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Encode returns one vector per text; every vector is the caller's own copy.
func (c *Cache) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	keys := make([][sha256.Size]byte, len(texts))
	for i, t := range texts {
		keys[i] = c.key(t)
	}
	dim := c.enc.Dim()
	out := make([][]float32, len(texts))
	flat := make([]float32, len(texts)*dim)
	// missAt maps each distinct missing key to its place in the batch.
	missAt := map[[sha256.Size]byte]int{}
	var missTexts []string
	c.mu.Lock()
	for i, k := range keys {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
		if el, ok := c.entries[k]; ok {
			c.lru.MoveToFront(el)
			copy(out[i], el.Value.(*cacheEntry).vec)
			c.hits++
			continue
		}
		c.misses++
		if _, ok := missAt[k]; !ok {
			missAt[k] = len(missTexts)
			missTexts = append(missTexts, texts[i])
		}
	}
	c.mu.Unlock()
	if len(missTexts) == 0 {
		return out, nil
	}
	vecs, err := c.enc.Encode(ctx, missTexts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(missTexts) {
		return nil, fmt.Errorf("embeddings cache: encoder returned %d vectors for %d texts", len(vecs), len(missTexts))
	}
	for j, v := range vecs {
		if len(v) != dim {
			return nil, fmt.Errorf("embeddings cache: encoder returned a %d-long vector; its dimension is %d", len(v), dim)
		}
		// The cache keeps its own copy: the encoder's result goes to callers.
		vecs[j] = append([]float32(nil), v...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		j, ok := missAt[k]
		if !ok {
			continue
		}
		copy(out[i], vecs[j])
		if el, ok := c.entries[k]; ok { // another call stored it meanwhile
			c.lru.MoveToFront(el)
			continue
		}
		c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, vec: vecs[j]})
		for c.lru.Len() > c.max {
			old := c.lru.Back()
			c.lru.Remove(old)
			delete(c.entries, old.Value.(*cacheEntry).key)
		}
	}
	return out, nil
}
