package pretrain

import (
	"math/rand/v2"
	"slices"
)

// Official proportions of the selected tokens replaced by [MASK] and by a
// random token (configs/pretraining.py); the rest stay unchanged.
const (
	maskTokenProportion   = 0.8
	randomTokenProportion = 0.1
)

// maskExample applies the official c4_masked_lm_inputs masking in place:
// num_to_predict = min(MaxPredictions, max(1, int(non_pad*rate))) counting
// [CLS] and [SEP]; positions drawn without replacement from the tokens that
// are not special (never [CLS], [SEP], pad, nor any id the tokenizer calls
// special), sorted; each replaced by [MASK] with probability 0.8, by a random
// non-special id with 0.1, left as is with 0.1.
func (b *builder) maskExample(ex *example, rng *rand.Rand) {
	cand := make([]int32, 0, ex.realTokens)
	for i, id := range ex.ids[:ex.realTokens] {
		if id >= 0 && int(id) < len(b.special) && !b.special[id] {
			cand = append(cand, int32(i))
		}
	}
	n := min(b.maxPre, max(1, int(float64(ex.realTokens)*b.maskRate)), len(cand))
	// Partial Fisher-Yates: the first n entries become a uniform sample
	// without replacement.
	for i := range n {
		j := i + rng.IntN(len(cand)-i)
		cand[i], cand[j] = cand[j], cand[i]
	}
	pos := cand[:n:n]
	slices.Sort(pos)
	ex.maskPos = pos
	ex.maskLabels = make([]int32, n)
	for i, p := range pos {
		ex.maskLabels[i] = ex.ids[p]
		switch r := rng.Float64(); {
		case r < maskTokenProportion:
			ex.ids[p] = b.mask
		case r < maskTokenProportion+randomTokenProportion:
			ex.ids[p] = b.normal[rng.IntN(len(b.normal))]
		}
	}
	ex.predictions = n
}
