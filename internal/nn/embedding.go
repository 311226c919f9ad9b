package nn

// Lookup gathers rows of table (rows×dim) for ids into a new (len(ids), dim)
// matrix. It panics on an id out of range (the caller validates data).
func Lookup(table []float32, dim int, ids []int32) []float32 {
	return LookupInto(nil, table, dim, ids)
}

// LookupInto is Lookup writing into out's storage when it is large enough.
func LookupInto(out, table []float32, dim int, ids []int32) []float32 {
	out = grow(out, len(ids)*dim)
	for i, id := range ids {
		copy(out[i*dim:(i+1)*dim], table[int(id)*dim:(int(id)+1)*dim])
	}
	return out
}

// ScatterAdd adds the rows of d (len(ids), dim) into the rows of grad named
// by ids, in order. It panics on an id out of range.
func ScatterAdd(grad []float32, dim int, ids []int32, d []float32) { scatterAdd(grad, dim, ids, d) }

// scatterAddGo is ScatterAdd in Go (the OpenBLAS build has a vectorised C copy).
func scatterAddGo(grad []float32, dim int, ids []int32, d []float32) {
	for i, id := range ids {
		g := grad[int(id)*dim : (int(id)+1)*dim]
		for j, v := range d[i*dim : (i+1)*dim] {
			g[j] += v
		}
	}
}
