package cuda

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The operation sequences of the fused FFN paths (FuseGELU: the 16-byte
// GELU kernels; FuseEpilogue: the cuBLASLt epilogue GEMMs) against
// testdata/dryrun_fuse_ffn.golden, as TestDryRunGolden pins the plain one:
// ForwardBackward then Evaluate for every head kind on smallConfig (F 200,
// a multiple of 8, so both paths apply) and for bert (no embedding
// projection), bf16 and fp32, both row layouts; digests of the exact
// sequences (raw addresses and values, the cuBLASLt calls' every field)
// and listings of three with addresses named by buffer. Every kernel
// launch passes the signature check against the parsed C source on the way.
// Regenerate after a deliberate change with
//
//	go test ./cuda/ -run TestDryRunGoldenFusedFFN -update
func TestDryRunGoldenFusedFFN(t *testing.T) {
	cases := []struct {
		arch, heads string
		h           fnet.Heads
		numLabels   int
	}{
		{"fnet", "pretraining", fnet.PretrainingHeads, 0},
		{"fnet", "maskedlm", fnet.MaskedLMHeads, 0},
		{"fnet", "classifier", fnet.ClassifierHeads, 3},
		{"fnet", "regression", fnet.ClassifierHeads, 1},
		{"bert", "pretraining", fnet.PretrainingHeads, 0},
	}
	listed := map[string]bool{
		"gelu/fnet/pretraining/bf16/seq-major":      true,
		"epilogue/fnet/pretraining/bf16/seq-major":  true,
		"epilogue/fnet/classifier/fp32/batch-major": true,
	}
	var digests, listings strings.Builder
	for _, f := range []Fusion{FuseGELU, FuseEpilogue} {
		for _, c := range cases {
			for _, prec := range []Precision{BF16, FP32} {
				for _, lay := range []struct {
					name string
					o    Options
				}{{"seq-major", Options{}}, {"batch-major", Options{BatchMajor: true}}} {
					name := f.String() + "/" + c.arch + "/" + c.heads + "/" + prec.String() + "/" + lay.name
					cfg := smallConfig(c.numLabels)
					if c.arch != "fnet" {
						cfg = archConfig(c.arch, c.numLabels)
					}
					e, d := dryEngine(t, cfg, c.h, prec, lay.o)
					e.seed, e.fuse = 0x5eed, f
					b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, c.numLabels)
					if c.numLabels == 0 && !c.h.NSP {
						b.Labels = nil
					}
					if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
						t.Fatalf("%s: ForwardBackward: %v", name, err)
					}
					if _, _, err := e.Evaluate(b); err != nil {
						t.Fatalf("%s: Evaluate: %v", name, err)
					}
					checkFFNPath(t, f, d, true)
					addGoldenEntry(&digests, &listings, 48, name, d.ops, listed[name], func(op dryOp) string { return namedFFNOp(e, op) })
				}
			}
		}
	}
	got := "# Dry-run operation sequences of the fused FFN paths (Options.Fuse = gelu, epilogue):\n" +
		"# ForwardBackward(batch, dropout step 3, scale 0.5) then Evaluate(batch) on smallConfig\n" +
		"# (H72 F200 L2 V397, B3 S40 K6) and bert's archConfig, per fusion/arch/heads/precision/layout:\n" +
		"# the digest of the exact sequence (raw addresses and values), then listings with addresses named by buffer.\n" +
		"# Regenerate: go test ./cuda/ -run TestDryRunGoldenFusedFFN -update\n\n" +
		digests.String() + listings.String()
	checkGolden(t, filepath.Join("testdata", "dryrun_fuse_ffn.golden"), got)
}

// namedFFNOp is namedOp with a cuBLASLt call spelled out: each operand's
// buffer, op, column-major shape, leading dimension and type, the bias and
// aux buffers, the workspace.
func namedFFNOp(e *Engine, op dryOp) string {
	if len(op.args) != 1 {
		return namedOp(e, op)
	}
	c, ok := op.args[0].(ltCall)
	if !ok {
		return namedOp(e, op)
	}
	opName := func(o int32) string {
		if o == opT {
			return "T"
		}
		return "N"
	}
	lay := func(p DevPtr, l ltLayout) string {
		return fmt.Sprintf("%s(%dx%d ld %d, %s)", dryName(e, p), l.rows, l.cols, l.ld, dtypeName(int(l.dtype)))
	}
	return fmt.Sprintf("%s %dx%dx%d op %s%s A=%s B=%s D=%s bias=%s(%s) aux=%s(ld %d) workspace=%s(%d bytes) α=%g β=%g compute=%d",
		op.name, c.m, c.n, c.k, opName(c.transA), opName(c.transB), lay(c.a, c.la), lay(c.b, c.lb), lay(c.c, c.lc),
		dryName(e, c.bias), dtypeName(int(c.biasType)), dryName(e, c.aux), c.auxLD, dryName(e, c.workspace), c.workspaceBytes, c.alpha, c.beta, c.compute)
}
