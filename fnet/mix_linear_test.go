package fnet

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestGradDenseMix: finite differences of the Linear mixing (both matrices
// trained) and the Random mixing (fixed matrices: only the input has a
// gradient), at odd sizes with more than one example.
func TestGradDenseMix(t *testing.T) {
	B, S, H := 3, 5, 4
	for _, trained := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(11, 3))
		x, hid, seq := randLeaf(rng, "x", 1, B*S, H), randLeaf(rng, "hidden", 0.5, H, H), randLeaf(rng, "seq", 0.5, S, S)
		hid.diff, seq.diff = trained, trained
		name := map[bool]string{true: "linear_mix", false: "random_mix"}[trained]
		gradCheck(t, name, []*leaf{x, hid, seq}, func(in G.Nodes) *G.Node {
			return denseMix(in[0], in[1], in[2], B, S, trained)
		}, 1e-2)
	}
}

// TestGradIdentityMix: FF-only's first sublayer LN(x + x) differentiates
// through both of its uses of x.
func TestGradIdentityMix(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	leaves := []*leaf{randLeaf(rng, "x", 1, 4, 6), randLeaf(rng, "g", 1, 6), randLeaf(rng, "b", 1, 6)}
	gradCheck(t, "identity_mix", leaves, func(in G.Nodes) *G.Node {
		return layerNorm(in[0], in[0], in[1], in[2], 1e-12)
	}, 2e-2)
}

// TestDenseMixMatchesTheDefinition: Y_b = seq · X_b · hidden, computed
// with plain loops in float64.
func TestDenseMixMatchesTheDefinition(t *testing.T) {
	B, S, H := 2, 7, 5
	rng := rand.New(rand.NewPCG(13, 2))
	x, hid, seq := randLeaf(rng, "x", 1, B*S, H), randLeaf(rng, "hidden", 1, H, H), randLeaf(rng, "seq", 1, S, S)
	g := G.NewGraph()
	y := denseMix(x.node(g), hid.node(g), seq.node(g), B, S, true)
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := value(y)
	for b := 0; b < B; b++ {
		for i := 0; i < S; i++ {
			for k := 0; k < H; k++ {
				var want float64
				for j := 0; j < S; j++ {
					for m := 0; m < H; m++ {
						want += float64(seq.data[i*S+j]) * float64(x.data[(b*S+j)*H+m]) * float64(hid.data[m*H+k])
					}
				}
				if d := math.Abs(float64(got[(b*S+i)*H+k]) - want); d > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("y[%d][%d][%d] = %v, want %v", b, i, k, got[(b*S+i)*H+k], want)
				}
			}
		}
	}
}
