package kernels

// EmbeddingForward writes out[b,s,:] = word[ids[b,s]] + pos[s] + typ[types[b,s]]
// for a [B, S] batch of ids into out [B·S, h].
func EmbeddingForward(word, pos, typ []float32, ids, types []int, out []float32, B, S, h int) {
	ParallelFor(B*S, 64, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			s := t % S
			w := word[ids[t]*h : ids[t]*h+h]
			p := pos[s*h : s*h+h]
			ty := typ[types[t]*h : types[t]*h+h]
			o := out[t*h : t*h+h]
			for j := range o {
				o[j] = w[j] + p[j] + ty[j]
			}
		}
	})
}

// EmbeddingBackward scatter-adds dout [B·S, h] into the three tables'
// gradients (added to, not overwritten). It runs serially: ids repeat, and a
// fixed order keeps the sums reproducible. Any of the gradient slices may be
// nil to skip that table.
func EmbeddingBackward(dout []float32, ids, types []int, dword, dpos, dtyp []float32, B, S, h int) {
	for t := 0; t < B*S; t++ {
		d := dout[t*h : t*h+h]
		if dword != nil {
			axpy1(d, dword[ids[t]*h:ids[t]*h+h])
		}
		if dpos != nil {
			s := t % S
			axpy1(d, dpos[s*h:s*h+h])
		}
		if dtyp != nil {
			axpy1(d, dtyp[types[t]*h:types[t]*h+h])
		}
	}
}

func axpy1(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += v
	}
}

// GatherRows copies rows idx[r] of each example into out: for example b and
// slot k, out[b·K+k] = x[b, idx[b·K+k], :], with x [B, S, h].
func GatherRows(x []float32, idx []int, out []float32, B, S, K, h int) {
	for b := 0; b < B; b++ {
		for k := 0; k < K; k++ {
			r := b*S + idx[b*K+k]
			copy(out[(b*K+k)*h:(b*K+k)*h+h], x[r*h:r*h+h])
		}
	}
}

// ScatterAddRows is GatherRows' adjoint: dx[b, idx[b·K+k], :] += dout[b·K+k].
func ScatterAddRows(dout []float32, idx []int, dx []float32, B, S, K, h int) {
	for b := 0; b < B; b++ {
		for k := 0; k < K; k++ {
			r := b*S + idx[b*K+k]
			axpy1(dout[(b*K+k)*h:(b*K+k)*h+h], dx[r*h:r*h+h])
		}
	}
}
