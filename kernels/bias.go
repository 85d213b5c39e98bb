package kernels

// AddBias adds b [out] to every row of y [n, out].
func AddBias(y, b []float32, n, out int) {
	ParallelFor(n, 64, func(lo, hi int) { addBias(y, b, lo, hi, out) })
}

// BiasGrad writes db = Σ_rows d for d [n, out]. Per-worker partial sums in
// scratch (Workers·out floats) are added in a fixed order.
func BiasGrad(d, db, scratch []float32, n, out int) {
	chunks := ParallelForWorker(n, 64, func(w, lo, hi int) {
		acc := scratch[w*out : (w+1)*out]
		clear(acc)
		colSums(d, acc, lo, hi, out)
	})
	clear(db)
	for w := 0; w < chunks; w++ {
		for j, x := range scratch[w*out : (w+1)*out] {
			db[j] += x
		}
	}
}

func addBiasGo(y, b []float32, lo, hi, out int) {
	for i := lo; i < hi; i++ {
		row := y[i*out : i*out+out]
		for j, bj := range b[:out] {
			row[j] += bj
		}
	}
}

func colSumsGo(d, acc []float32, lo, hi, out int) {
	for i := lo; i < hi; i++ {
		for j, x := range d[i*out : i*out+out] {
			acc[j] += x
		}
	}
}
