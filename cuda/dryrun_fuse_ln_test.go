package cuda

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The operation sequence of the fused LayerNorm and optimizer paths
// (FuseLayerNormBackward | FuseLayerNormForward | FuseOptimizer) against
// testdata/dryrun_fuse_ln.golden, as TestDryRunGolden pins the plain one:
// ForwardBackward, Step and Evaluate for every head kind on smallConfig
// and for the architectures whose LayerNorms or flat layout differ (bert:
// no embedding projection; random+attention: fixed matrices after the
// trained prefix), digests of the exact sequences and listings of two.
// Every launch passes the signature check against the parsed C source.
// Regenerate after a deliberate change with
//
//	go test ./cuda/ -run TestDryRunGoldenFusedLayerNorm -update
func TestDryRunGoldenFusedLayerNorm(t *testing.T) {
	const fuse = FuseLayerNormBackward | FuseLayerNormForward | FuseOptimizer
	type gcase struct {
		arch, heads string
		h           fnet.Heads
		numLabels   int
	}
	cases := []gcase{
		{"fnet", "pretraining", fnet.PretrainingHeads, 0},
		{"fnet", "maskedlm", fnet.MaskedLMHeads, 0},
		{"fnet", "classifier", fnet.ClassifierHeads, 3},
		{"fnet", "regression", fnet.ClassifierHeads, 1},
		{"bert", "pretraining", fnet.PretrainingHeads, 0},
		{"random+attention", "classifier", fnet.ClassifierHeads, 3},
	}
	listed := map[string]bool{"fnet/pretraining/bf16/seq-major": true, "random+attention/classifier/fp32/batch-major": true}
	var digests, listings strings.Builder
	for _, c := range cases {
		for _, prec := range []Precision{BF16, FP32} {
			for _, lay := range []struct {
				name string
				o    Options
			}{{"seq-major", Options{}}, {"batch-major", Options{BatchMajor: true}}} {
				name := c.arch + "/" + c.heads + "/" + prec.String() + "/" + lay.name
				cfg := smallConfig(c.numLabels)
				if c.arch != "fnet" {
					cfg = archConfig(c.arch, c.numLabels)
				}
				e, d := dryEngine(t, cfg, c.h, prec, lay.o)
				e.seed, e.fuse = 0x5eed, fuse
				b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, c.numLabels)
				if c.numLabels == 0 && !c.h.NSP {
					b.Labels = nil
				}
				if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
					t.Fatalf("%s: ForwardBackward: %v", name, err)
				}
				if _, err := e.Step(1e-3, 1); err != nil {
					t.Fatalf("%s: Step: %v", name, err)
				}
				if _, _, err := e.Evaluate(b); err != nil {
					t.Fatalf("%s: Evaluate: %v", name, err)
				}
				addGoldenEntry(&digests, &listings, 46, name, d.ops, listed[name], func(op dryOp) string { return namedOp(e, op) })
			}
		}
	}
	got := "# Dry-run operation sequences with Options.Fuse = " + fuse.String() + ":\n" +
		"# ForwardBackward(batch, dropout step 3, scale 0.5), Step(lr 1e-3, max norm 1), Evaluate(batch)\n" +
		"# on smallConfig (H72 F200 L2 V397, B3 S40 K6) and archConfig (three layers), per arch/heads/precision/layout:\n" +
		"# the digest of the exact sequence (raw addresses and values), then listings with addresses named by buffer.\n" +
		"# Regenerate: go test ./cuda/ -run TestDryRunGoldenFusedLayerNorm -update\n\n" +
		digests.String() + listings.String()
	checkGolden(t, filepath.Join("testdata", "dryrun_fuse_ln.golden"), got)
}
