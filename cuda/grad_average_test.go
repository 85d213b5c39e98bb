package cuda

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/dist/disttest"
	"github.com/fnet-tui/fnet-tui/fnet"
)

// dryCollective is rank of size as the engine's gradient average sees it
// in a dry run: the engine records its NCCL calls and never reaches the
// communicator, so none is made.
func dryCollective(rank, size int) *Collective {
	return &Collective{rank: rank, size: size, stream: 0xC0}
}

// TestGradGroupsTileTheTrainedBuffer: for every architecture and head
// set, the groups are contiguous, cover [0, nTrained) exactly once in
// layout order, and each trained parameter lies inside its own group (the
// embeddings', its layer's, or the heads').
func TestGradGroupsTileTheTrainedBuffer(t *testing.T) {
	archs := append([]string{"fnet"}, dryArchs...)
	for _, arch := range archs {
		for _, h := range []struct {
			name   string
			heads  fnet.Heads
			labels int
		}{{"pretraining", fnet.PretrainingHeads, 0}, {"maskedlm", fnet.MaskedLMHeads, 0}, {"classifier", fnet.ClassifierHeads, 3}} {
			cfg := smallConfig(h.labels)
			if arch != "fnet" {
				cfg = archConfig(arch, h.labels)
			}
			e, _ := dryEngine(t, cfg, h.heads, FP32, Options{})
			groups, err := e.gradGroups()
			if err != nil {
				t.Fatalf("%s/%s: %v", arch, h.name, err)
			}
			if len(groups) != cfg.NumLayers+2 {
				t.Fatalf("%s/%s: %d groups, want embeddings, %d layers, heads", arch, h.name, len(groups), cfg.NumLayers)
			}
			end := 0
			for i, g := range groups {
				if g.off != end || g.n <= 0 {
					t.Fatalf("%s/%s: group %d (%s) is [%d, +%d) after %d", arch, h.name, i, g.name, g.off, g.n, end)
				}
				end = g.off + g.n
			}
			if end != e.nTrained {
				t.Fatalf("%s/%s: the groups end at %d, nTrained is %d", arch, h.name, end, e.nTrained)
			}
			for _, ps := range e.trained {
				want := "heads"
				for i := 0; i < cfg.NumLayers; i++ {
					if strings.HasPrefix(ps.Name, fnet.LayerParam(i, "")) {
						want = fmt.Sprintf("layer %d", i)
					}
				}
				if e.offsets[ps.Name] < groups[1].off {
					want = "embeddings"
				}
				off, n := e.offsets[ps.Name], fnet.NumElements(ps.Shape)
				var in string
				for _, g := range groups {
					if off >= g.off && off+n <= g.off+g.n {
						in = g.name
					}
				}
				if in != want {
					t.Errorf("%s/%s: %s lies in group %q, want %q", arch, h.name, ps.Name, in, want)
				}
			}
			if groups[0].name != "embeddings" || groups[len(groups)-1].name != "heads" {
				t.Errorf("%s/%s: groups %v", arch, h.name, groups)
			}
		}
	}
}

// averagedStep runs one data-parallel step's device side on a dry engine:
// arm (when overlap), the last micro-batch, the average, the optimizer step.
func averagedStep(t *testing.T, cfg fnet.Config, heads fnet.Heads, c *Collective, overlap bool, o Options) (*Engine, *dryRun) {
	t.Helper()
	e, d := dryEngine(t, cfg, heads, BF16, o)
	e.fuse = o.Fuse
	e.seed = 0x5eed
	d.norm = 1
	b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, 0)
	if overlap {
		if ok, err := e.ArmGradientAverage(c); !ok || err != nil {
			t.Fatalf("ArmGradientAverage: %v %v", ok, err)
		}
	}
	if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.AverageGradients(c); !ok || err != nil {
		t.Fatalf("AverageGradients: %v %v", ok, err)
	}
	if _, err := e.Step(1e-3, 1); err != nil {
		t.Fatal(err)
	}
	return e, d
}

// touches reports whether op writes (or may write: any device address
// argument, the GEMM's output, a cuBLASLt call's output, bias and aux) the
// range [lo, hi).
func touches(op dryOp, lo, hi DevPtr) bool {
	in := func(p DevPtr) bool { return p >= lo && p < hi }
	if op.gemm != nil && in(op.gemm.c.ptr) {
		return true
	}
	for _, a := range op.args {
		switch v := a.(type) {
		case DevPtr:
			if in(v) {
				return true
			}
		case ltCall:
			if in(v.c) || in(v.bias) || in(v.aux) {
				return true
			}
		case *ltCall:
			if in(v.c) || in(v.bias) || in(v.aux) {
				return true
			}
		}
	}
	return false
}

// TestOverlappedAverageIsPlacedAfterEachGroup checks the placement the
// golden shows, on every head set: each group's all-reduce is enqueued
// behind an event recorded on the compute stream right after the last
// operation that writes its gradients (no operation between the group's
// last write and its event), no operation until the optimizer touches the
// group's range after its all-reduce, the next layer's backward comes
// after it, and the compute stream waits for the communicator's stream
// before the optimizer's first kernel.
func TestOverlappedAverageIsPlacedAfterEachGroup(t *testing.T) {
	for _, h := range []struct {
		name  string
		heads fnet.Heads
		o     Options
	}{{"pretraining", fnet.PretrainingHeads, Options{}}, {"maskedlm", fnet.MaskedLMHeads, Options{}}, {"classifier", fnet.ClassifierHeads, Options{}},
		{"pretraining/fused", fnet.PretrainingHeads, Options{Fuse: FuseAll}}, {"classifier/fused", fnet.ClassifierHeads, Options{Fuse: FuseAll}}} {
		labels := 0
		if h.heads.Classifier {
			labels = 3
		}
		cfg := smallConfig(labels)
		e, d := averagedStep(t, cfg, h.heads, dryCollective(0, 2), true, h.o)
		groups, _ := e.gradGroups()
		optimizer := -1
		for i, op := range d.ops {
			if strings.HasPrefix(op.name, "sumsq") {
				optimizer = i
				break
			}
		}
		if optimizer < 0 || d.ops[optimizer-1].name != "stream_wait" || d.ops[optimizer-1].args[0] != "compute" || d.ops[optimizer-2].name != "event_record" || d.ops[optimizer-2].args[1] != "comm" {
			t.Fatalf("%s: the optimizer does not wait for the communicator's stream: %v", h.name, d.names()[max(0, optimizer-3):optimizer+1])
		}
		var issued []string
		for i, op := range d.ops {
			if op.name != "nccl_allreduce" {
				continue
			}
			buf, n := op.args[0].(DevPtr), op.args[1].(int64)
			lo, hi := buf, buf+DevPtr(4*n)
			var g gradGroup
			for _, gg := range groups {
				if e.grads+DevPtr(4*gg.off) == buf && int64(gg.n) == n {
					g = gg
				}
			}
			if g.name == "" {
				t.Fatalf("%s: all-reduce of [%#x, +%d) is no group", h.name, buf, n)
			}
			issued = append(issued, g.name)
			if d.ops[i-2].name != "event_record" || d.ops[i-2].args[1] != "compute" || d.ops[i-1].name != "stream_wait" || d.ops[i-1].args[0] != "comm" {
				t.Fatalf("%s: %s's all-reduce is not behind a compute-stream event: %v", h.name, g.name, d.names()[i-2:i+1])
			}
			// right after the group's last gradient write: the operations
			// between it and the event (the layer's input-gradient GEMM)
			// write no gradients at all, so the next group has not begun
			last := -1
			for j := i - 3; j >= 0; j-- {
				if touches(d.ops[j], lo, hi) {
					last = j
					break
				}
			}
			if last < 0 {
				t.Fatalf("%s: nothing wrote %s's gradients before their all-reduce", h.name, g.name)
			}
			for _, between := range d.ops[last+1 : i-2] {
				if touches(between, e.grads, e.grads+DevPtr(4*e.nTrained)) {
					t.Errorf("%s: %s writes gradients between %s's last gradient write and its all-reduce: the all-reduce comes late", h.name, between.name, g.name)
				}
			}
			for _, later := range d.ops[i+1 : optimizer] {
				if touches(later, lo, hi) {
					t.Errorf("%s: %s writes %s's gradients after their all-reduce was enqueued", h.name, later.name, g.name)
				}
			}
		}
		want := []string{"heads"}
		for l := cfg.NumLayers - 1; l >= 0; l-- {
			want = append(want, fmt.Sprintf("layer %d", l))
		}
		want = append(want, "embeddings")
		if fmt.Sprint(issued) != fmt.Sprint(want) {
			t.Fatalf("%s: all-reduces in the order %v, want %v", h.name, issued, want)
		}
	}
}

// ncclCalls lists a dry run's all-reduces with their ranges.
func ncclCalls(e *Engine, d *dryRun) []string {
	var out []string
	for _, op := range d.ops {
		if op.name == "nccl_allreduce" {
			out = append(out, fmt.Sprintf("%s %d", dryName(e, op.args[0].(DevPtr)), op.args[1]))
		}
	}
	return out
}

// TestAverageIsTheSameOnEveryRank: the NCCL calls (ranges, order) of rank
// 0 and rank 1 are identical, and the unarmed path (no overlap) issues the
// same calls, after the backward.
func TestAverageIsTheSameOnEveryRank(t *testing.T) {
	cfg := smallConfig(0)
	e0, d0 := averagedStep(t, cfg, fnet.PretrainingHeads, dryCollective(0, 2), true, Options{})
	e1, d1 := averagedStep(t, cfg, fnet.PretrainingHeads, dryCollective(1, 2), true, Options{})
	c0, c1 := ncclCalls(e0, d0), ncclCalls(e1, d1)
	if len(c0) != cfg.NumLayers+2 || fmt.Sprint(c0) != fmt.Sprint(c1) {
		t.Fatalf("rank 0: %v\nrank 1: %v", c0, c1)
	}
	e2, d2 := averagedStep(t, cfg, fnet.PretrainingHeads, dryCollective(1, 2), false, Options{})
	if c2 := ncclCalls(e2, d2); fmt.Sprint(c2) != fmt.Sprint(c0) {
		t.Fatalf("unarmed: %v, armed: %v", c2, c0)
	}
	// unarmed, every all-reduce follows the whole backward: from the first
	// one to the optimizer there are only the average's own operations
	first := -1
	for i, op := range d2.ops {
		if op.name == "nccl_allreduce" && first < 0 {
			first = i - 2 // its event
		}
		if first >= 0 && strings.HasPrefix(op.name, "sumsq") {
			break
		}
		if first >= 0 && op.name != "nccl_allreduce" && op.name != "event_record" && op.name != "stream_wait" {
			t.Fatalf("unarmed: %s (op %d) after the first all-reduce (op %d), before the optimizer", op.name, i, first+2)
		}
	}
	if first < 0 || d2.ops[first-1].name != "dtoh" {
		t.Fatalf("unarmed: the average does not start after the backward's stats copy")
	}
}

// TestGradientAverageRefusals: another Collective cannot reach the device
// buffer (ok false, nothing recorded); arming twice, or an armed pass that
// did not finish its backward, is an error naming the rank.
func TestGradientAverageRefusals(t *testing.T) {
	cfg := smallConfig(0)
	e, d := dryEngine(t, cfg, fnet.PretrainingHeads, BF16, Options{})
	host := disttest.Collectives(disttest.NewLocalGroup(1))[0]
	if ok, err := e.ArmGradientAverage(host); ok || err != nil || len(d.ops) != 0 {
		t.Fatalf("a host collective: %v %v, %d ops", ok, err, len(d.ops))
	}
	if ok, err := e.AverageGradients(host); ok || err != nil {
		t.Fatalf("a host collective: %v %v", ok, err)
	}
	c := dryCollective(3, 4)
	if _, err := e.ArmGradientAverage(c); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ArmGradientAverage(c); err == nil || !strings.Contains(err.Error(), "rank 3: a gradient average is still pending") {
		t.Fatalf("armed twice: %v", err)
	}
	if _, err := e.AverageGradients(c); err == nil || !strings.Contains(err.Error(), "rank 3: the armed backward enqueued 0 of the 4 gradient groups") {
		t.Fatalf("no backward since arming: %v", err)
	}
	// the state is reset: the next step arms again; a Step before the
	// average is refused
	if _, err := e.ArmGradientAverage(c); err != nil {
		t.Fatalf("after the failed average: %v", err)
	}
	if _, err := e.Step(1e-3, 1); err == nil || !strings.Contains(err.Error(), "rank 3: Step before AverageGradients") {
		t.Fatalf("Step while armed: %v", err)
	}
	closed := dryCollective(0, 2)
	closed.closed = true
	if _, err := e.AverageGradients(closed); err == nil || !strings.Contains(err.Error(), "rank 0: the NCCL collective is closed") {
		t.Fatalf("a closed collective: %v", err)
	}
}

// TestDryRunNCCLGolden pins the overlapped average's placement on the
// pretraining model (smallConfig, bf16, seq-major), rank 0 of 2: the last
// micro-batch's ForwardBackward armed, AverageGradients, Step, every
// operation with its addresses named, the all-reduces with their ranges.
//
//	go test ./cuda/ -run TestDryRunNCCLGolden -update
func TestDryRunNCCLGolden(t *testing.T) {
	e, d := averagedStep(t, smallConfig(0), fnet.PretrainingHeads, dryCollective(0, 2), true, Options{})
	var b strings.Builder
	b.WriteString("# The step's last micro-batch with the gradient average armed (rank 0 of 2): ArmGradientAverage,\n" +
		"# ForwardBackward(batch, dropout step 3, scale 0.5), AverageGradients, Step(1e-3, clip 1), on smallConfig\n" +
		"# (H72 F200 L2 V397, B3 S40 K6), pretraining heads, bf16, seq-major. \"compute\" is the engine's stream,\n" +
		"# \"comm\" the communicator's; nccl_allreduce: buffer, elements, type, op, stream.\n" +
		"# Regenerate: go test ./cuda/ -run TestDryRunNCCLGolden -update\n\n")
	for _, op := range d.ops {
		fmt.Fprintln(&b, namedOp(e, op))
	}
	checkGolden(t, filepath.Join("testdata", "dryrun_nccl.golden"), b.String())
}
