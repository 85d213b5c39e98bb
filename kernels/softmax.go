package kernels

import "math"

// SoftmaxCrossEntropy turns logits [m, v] into probabilities (written to
// probs, which may alias logits) and returns, over rows with non-zero weight,
// Σ w·CE(row, label), Σ w and Σ w·[argmax == label]. Rows are independent,
// and the sums are combined in a fixed order.
func SoftmaxCrossEntropy(logits, probs []float32, labels []int, weights []float32, m, v int, partial []float64) (lossSum, weightSum, correct float64) {
	// partial: 3 per row, reduced serially afterwards for determinism
	ParallelFor(m, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			w := float32(1)
			if weights != nil {
				w = weights[i]
			}
			row := logits[i*v : i*v+v]
			pr := probs[i*v : i*v+v]
			mx, arg := row[0], 0
			for j, x := range row {
				if x > mx {
					mx, arg = x, j
				}
			}
			lbl := labels[i]
			lblLogit := row[lbl] // read before probs (which may alias row) overwrite it
			sum, _ := softmaxRow(row, pr)
			// CE = logsumexp − logit[label]
			ce := math.Log(float64(sum)) + float64(mx) - float64(lblLogit)
			partial[3*i] = float64(w) * ce
			partial[3*i+1] = float64(w)
			if arg == lbl {
				partial[3*i+2] = float64(w)
			} else {
				partial[3*i+2] = 0
			}
		}
	})
	for i := 0; i < m; i++ {
		lossSum += partial[3*i]
		weightSum += partial[3*i+1]
		correct += partial[3*i+2]
	}
	return
}

// SoftmaxCrossEntropyBackward writes dlogits = scale·w_i·(p − onehot(label))
// for every row (rows of weight 0 get zeros). dlogits may alias probs.
func SoftmaxCrossEntropyBackward(probs []float32, labels []int, weights []float32, dlogits []float32, m, v int, scale float32) {
	ParallelFor(m, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			w := scale
			if weights != nil {
				w *= weights[i]
			}
			pr, d := probs[i*v:i*v+v], dlogits[i*v:i*v+v]
			for j, p := range pr {
				d[j] = w * p
			}
			d[labels[i]] -= w
		}
	})
}

// softmaxRowGo writes the probabilities of one row and returns the sum of
// exp(x − max) and the max.
func softmaxRowGo(row, pr []float32) (sum, mx float32) {
	mx = row[0]
	for _, x := range row {
		mx = max(mx, x)
	}
	for j, x := range row {
		e := Exp32(x - mx)
		pr[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range pr {
		pr[j] *= inv
	}
	return sum, mx
}
