package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

var updateGolden = flag.Bool("update", false, "rewrite cuda/testdata/dryrun.golden")

// The exact operation sequence of a training micro-batch and an evaluation
// (every launch with its grid, block and argument values, every GEMM with
// its operands, every copy and memset) for each head, precision and row
// layout, against testdata/dryrun.golden: a refactoring that changes
// nothing a device would see leaves the file as it is. The file holds the
// sequences' digests (raw addresses and values, so a moved buffer shows)
// and, for a few cases, the listing with addresses named by buffer.
// Regenerate after a deliberate change with
//
//	go test ./cuda/ -run TestDryRunGolden -update
//
// and read the diff of the listings.
func TestDryRunGolden(t *testing.T) {
	type gcase struct {
		name      string
		heads     fnet.Heads
		numLabels int
	}
	heads := []gcase{
		{"pretraining", fnet.PretrainingHeads, 0},
		{"maskedlm", fnet.MaskedLMHeads, 0},
		{"classifier", fnet.ClassifierHeads, 3},
		{"regression", fnet.ClassifierHeads, 1},
	}
	layouts := []struct {
		name string
		o    Options
	}{{"seq-major", Options{}}, {"batch-major", Options{BatchMajor: true}}, {"mixbf16", Options{MixBF16: true}}}
	// one listing per head, covering every precision and layout
	listed := map[string]bool{
		"pretraining/bf16/seq-major":  true,
		"maskedlm/fp32/batch-major":   true,
		"classifier/tf32/seq-major":   true,
		"regression/bf16/batch-major": true,
	}
	var digests, listings strings.Builder
	for _, h := range heads {
		for _, prec := range []Precision{BF16, TF32, FP32} {
			for _, lay := range layouts {
				if lay.o.MixBF16 && prec != BF16 {
					continue // the option only changes bf16
				}
				name := h.name + "/" + prec.String() + "/" + lay.name
				cfg := smallConfig(h.numLabels)
				e, d := dryEngine(t, cfg, h.heads, prec, lay.o)
				e.seed = 0x5eed
				b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, h.numLabels)
				if h.numLabels == 0 && !h.heads.NSP {
					b.Labels = nil
				}
				if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
					t.Fatalf("%s: ForwardBackward: %v", name, err)
				}
				if _, _, err := e.Evaluate(b); err != nil {
					t.Fatalf("%s: Evaluate: %v", name, err)
				}
				addGoldenEntry(&digests, &listings, 30, name, d.ops, listed[name], func(op dryOp) string { return namedOp(e, op) })
			}
		}
	}
	got := "# Dry-run operation sequences of ForwardBackward(batch, dropout step 3, scale 0.5) then Evaluate(batch)\n" +
		"# on smallConfig (H72 F200 L2 V397, B3 S40 K6), per heads/precision/layout: the digest of the exact\n" +
		"# sequence (raw addresses and values), then listings with addresses named by buffer.\n" +
		"# Regenerate: go test ./cuda/ -run TestDryRunGolden -update\n\n" +
		digests.String() + listings.String()
	checkGolden(t, filepath.Join("testdata", "dryrun.golden"), got)
}

// The same for the other architectures (archConfig: three layers, padded
// batches), in their own file so that FNet's stays as it is: digests per
// architecture, heads, precision and layout, and two listings.
//
//	go test ./cuda/ -run TestDryRunGoldenArchitectures -update
func TestDryRunGoldenArchitectures(t *testing.T) {
	listed := map[string]bool{"bert/pretraining/bf16/seq-major": true, "random+attention/classifier/fp32/batch-major": true}
	var digests, listings strings.Builder
	for _, arch := range dryArchs {
		for _, h := range []struct {
			name      string
			heads     fnet.Heads
			numLabels int
		}{{"pretraining", fnet.PretrainingHeads, 0}, {"classifier", fnet.ClassifierHeads, 3}} {
			for _, prec := range []Precision{BF16, FP32} {
				for _, lay := range []struct {
					name string
					o    Options
				}{{"seq-major", Options{}}, {"batch-major", Options{BatchMajor: true}}} {
					name := arch + "/" + h.name + "/" + prec.String() + "/" + lay.name
					cfg := archConfig(arch, h.numLabels)
					e, d := dryEngine(t, cfg, h.heads, prec, lay.o)
					e.seed = 0x5eed
					b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, h.numLabels)
					padBatch(b, cfg.PadTokenID)
					if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
						t.Fatalf("%s: ForwardBackward: %v", name, err)
					}
					if _, _, err := e.Evaluate(b); err != nil {
						t.Fatalf("%s: Evaluate: %v", name, err)
					}
					addGoldenEntry(&digests, &listings, 46, name, d.ops, listed[name], func(op dryOp) string { return namedOp(e, op) })
				}
			}
		}
	}
	got := "# Dry-run operation sequences of ForwardBackward(batch, dropout step 3, scale 0.5) then Evaluate(batch)\n" +
		"# for the architectures besides FNet (archConfig: smallConfig with 3 layers, B3 S40 K6, padded batches),\n" +
		"# per architecture/heads/precision/layout, then listings with addresses named by buffer.\n" +
		"# Regenerate: go test ./cuda/ -run TestDryRunGoldenArchitectures -update\n\n" +
		digests.String() + listings.String()
	checkGolden(t, filepath.Join("testdata", "dryrun_archs.golden"), got)
}

// addGoldenEntry adds one dry run's operations to a golden file's text: a
// line with the digest of the exact sequence (name padded to width), and,
// when listed, every operation spelled by spell (addresses named by buffer).
func addGoldenEntry(digests, listings *strings.Builder, width int, name string, ops []dryOp, listed bool, spell func(dryOp) string) {
	sum := sha256.New()
	for _, op := range ops {
		fmt.Fprintln(sum, rawOp(op))
	}
	fmt.Fprintf(digests, "%-*s %4d ops  sha256 %s\n", width, name, len(ops), hex.EncodeToString(sum.Sum(nil))[:32])
	if listed {
		fmt.Fprintf(listings, "\n== %s\n", name)
		for _, op := range ops {
			fmt.Fprintln(listings, spell(op))
		}
	}
}

// checkGolden compares got with the file at path (rewriting it with -update).
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("the operation sequence differs from %s at line %d:\n got  %s\n want %s\n(after a deliberate change: -update, then read the diff)", path, i+1, g, w)
		}
	}
}

// rawOp formats an operation exactly: Go types, raw addresses, float bits.
func rawOp(op dryOp) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v %v", op.name, op.grid, op.block)
	for _, a := range op.args {
		switch v := a.(type) {
		case float32:
			fmt.Fprintf(&b, " f32:%s", strconv.FormatFloat(float64(v), 'g', -1, 32))
		default:
			fmt.Fprintf(&b, " %T:%#x", a, a)
		}
	}
	if op.gemm != nil {
		fmt.Fprintf(&b, " %+v", *op.gemm)
	}
	return b.String()
}

// namedOp formats an operation for reading: addresses as buffer names.
func namedOp(e *Engine, op dryOp) string {
	var b strings.Builder
	b.WriteString(op.name)
	if op.gemm == nil && op.grid != [3]uint32{} {
		fmt.Fprintf(&b, " <<<%d,%d,%d | %d,%d,%d>>>", op.grid[0], op.grid[1], op.grid[2], op.block[0], op.block[1], op.block[2])
	}
	for _, a := range op.args {
		switch v := a.(type) {
		case DevPtr:
			b.WriteString(" " + dryName(e, v))
		case float32:
			b.WriteString(" " + strconv.FormatFloat(float64(v), 'g', -1, 32))
		default:
			fmt.Fprintf(&b, " %v", v)
		}
	}
	if g := op.gemm; g != nil {
		operand := func(o gemmOperand) string {
			s := fmt.Sprintf("%s(ld %d, %s", dryName(e, o.ptr), o.ld, dtypeName(o.dtype))
			if o.stride != 0 {
				s += fmt.Sprintf(", stride %d", o.stride)
			}
			return s + ")"
		}
		fmt.Fprintf(&b, " A=%s B=%s C=%s α=%g β=%g compute=%d", operand(g.a), operand(g.b), operand(g.c), g.alpha, g.beta, g.compute)
	}
	return b.String()
}

func dtypeName(t int) string {
	switch t {
	case cudaR32F:
		return "f32"
	case cudaR16BF:
		return "bf16"
	}
	return strconv.Itoa(t)
}

// dryName names a dry engine's address: the flat buffers by parameter,
// the activations by the plan's names, the DFT tables, the scratch.
func dryName(e *Engine, p DevPtr) string {
	if p == 0 {
		return "nil"
	}
	byOffset := map[int]string{}
	for n, off := range e.offsets {
		byOffset[off] = n
	}
	type region struct {
		name string
		base DevPtr
		es   int
	}
	flats := []region{{"params", e.params, 4}, {"grads", e.grads, 4}, {"adam.m", e.m, 4}, {"adam.v", e.v, 4}}
	if e.shadow != e.params {
		flats = append(flats, region{"shadow", e.shadow, e.prec.gemmElemSize()})
	}
	for _, r := range flats {
		if p >= r.base && p < r.base+DevPtr(e.nFlat*r.es) {
			off := int(p-r.base) / r.es
			if n, ok := byOffset[off]; ok && int(p-r.base)%r.es == 0 {
				return r.name + "[" + n + "]"
			}
			return fmt.Sprintf("%s+%d", r.name, p-r.base)
		}
	}
	if p >= e.stats && p < e.stats+8*numStats {
		return fmt.Sprintf("stats[%d]", (p-e.stats)/8)
	}
	switch p {
	case e.normParts:
		return "norm.partials"
	case e.normOut:
		return "norm"
	}
	if a := e.act; a != nil {
		for _, in := range []struct {
			name string
			p    DevPtr
		}{{"ids", a.ids}, {"typeIDs", a.typeIDs}, {"maskedPos", a.maskedPos}, {"maskedLabels", a.maskedLabels}, {"seqLabels", a.seqLabels}, {"maskedWeights", a.maskedWeights}, {"targets", a.targets}, {"keyMask", a.keyMask}} {
			if p == in.p {
				return "input." + in.name
			}
		}
		items := append([]planItem(nil), a.plan.items...)
		sort.SliceStable(items, func(i, j int) bool { return items[i].offset < items[j].offset })
		for _, it := range items {
			start := a.arena + DevPtr(it.offset)
			if p == start {
				return it.name
			}
			if p > start && p < start+DevPtr(it.bytes) {
				return fmt.Sprintf("%s+%d", it.name, p-start)
			}
		}
	}
	for _, t := range e.tables {
		for _, x := range []struct {
			name string
			p    DevPtr
		}{{"dft.hidden", t.hidden}, {"dft.cosS", t.cosS}, {"dft.negSinS", t.negSinS}, {"dft.seqCat", t.seqCat}} {
			if x.p != 0 && p == x.p {
				return x.name
			}
		}
	}
	return fmt.Sprintf("%#x", uint64(p))
}
