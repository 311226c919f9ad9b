package nn

// Lookup gathers rows of table (rows×dim) for ids into a new (len(ids), dim)
// matrix. It panics on an id out of range (the caller validates data).
func Lookup(table []float32, dim int, ids []int32) []float32 {
	out := make([]float32, len(ids)*dim)
	for i, id := range ids {
		copy(out[i*dim:(i+1)*dim], table[int(id)*dim:(int(id)+1)*dim])
	}
	return out
}

// ScatterAdd adds the rows of d (len(ids), dim) into the rows of grad named by ids.
func ScatterAdd(grad []float32, dim int, ids []int32, d []float32) {
	for i, id := range ids {
		g := grad[int(id)*dim : (int(id)+1)*dim]
		for j, v := range d[i*dim : (i+1)*dim] {
			g[j] += v
		}
	}
}
