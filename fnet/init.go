package fnet

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// InitParams draws every parameter of a model with the given heads from the
// official FNet initializers (FNET.md §1.2): N(0, initializer_range) for
// embeddings, FFN and head kernels (and the biases the official code draws),
// Flax's lecun_normal for the embedding projection, zeros and ones
// elsewhere. Each parameter has its own generator, seeded from (seed, name),
// so adding a head never changes the other parameters.
func InitParams(c Config, h Heads, seed uint64) map[string][]float32 {
	out := make(map[string][]float32)
	for _, ps := range ParamSpecs(c, h) {
		out[ps.Name] = initParam(ps, c.InitializerRange, seed)
	}
	return out
}

func initParam(ps ParamSpec, std float64, seed uint64) []float32 {
	data := make([]float32, NumElements(ps.Shape))
	hsh := fnv.New64a()
	hsh.Write([]byte(ps.Name))
	rng := rand.New(rand.NewPCG(seed, hsh.Sum64()))
	switch ps.Init {
	case InitNormal:
		for i := range data {
			data[i] = float32(rng.NormFloat64() * std)
		}
	case InitOnes:
		for i := range data {
			data[i] = 1
		}
	case InitLecunNormal:
		// variance_scaling(1, fan_in, truncated_normal): a normal truncated at
		// ±2σ, rescaled so the variance is 1/fan_in.
		fanIn := ps.Shape[len(ps.Shape)-1] // [out, in]
		s := math.Sqrt(1/float64(fanIn)) / 0.87962566103423978
		for i := range data {
			z := rng.NormFloat64()
			for math.Abs(z) > 2 {
				z = rng.NormFloat64()
			}
			data[i] = float32(z * s)
		}
	case InitZeros:
	}
	return data
}
