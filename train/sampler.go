package train

import "math/rand/v2"

// epochSampler deals a training set out in batches: one seeded
// permutation per epoch, the last partial batch of an epoch dropped
// (static shapes; every example still comes up across epochs). Its
// position is the data state of trainer.json, so a resumed run draws the
// same batches an uninterrupted one would.
type epochSampler struct {
	n, batch int
	seed     uint64
	pos      finetunePos
	perm     []int
}

// finetunePos is the data state in trainer.json.
type finetunePos struct {
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"` // examples of the epoch's permutation already used
}

func (s *epochSampler) permutation(epoch int) []int {
	rng := rand.New(rand.NewPCG(s.seed, 0xF1E7+uint64(epoch)))
	return rng.Perm(s.n)
}

// next returns the positions of the next batch's examples.
func (s *epochSampler) next() []int {
	if s.perm == nil {
		s.perm = s.permutation(s.pos.Epoch)
	}
	if s.pos.Pos+s.batch > len(s.perm) {
		s.pos = finetunePos{Epoch: s.pos.Epoch + 1}
		s.perm = s.permutation(s.pos.Epoch)
	}
	idx := s.perm[s.pos.Pos : s.pos.Pos+s.batch]
	s.pos.Pos += s.batch
	return idx
}
