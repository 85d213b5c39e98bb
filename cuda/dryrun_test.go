package cuda

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// drySMs is the multiprocessor count a dry engine's device reports (it
// sizes the adamw grid).
const drySMs = 3

// dryEngine is an Engine on a dry run: its launches and GEMMs only check
// their arguments (against the kernels' C signatures and the GEMM shapes)
// and are recorded with them, and its memory is made-up addresses, so the
// whole forward, backward and optimizer sequence runs here without a GPU.
func dryEngine(t *testing.T, cfg fnet.Config, heads fnet.Heads, prec Precision, o Options) (*Engine, *dryRun) {
	t.Helper()
	e := &Engine{cfg: cfg, heads: heads, opt: fnet.DefaultAdamW, prec: prec, mixTF32: prec == BF16 && !o.MixBF16, seqMajor: !o.BatchMajor, attnChunk: o.AttentionChunkPairs, fuse: o.Fuse,
		s: &runtimeState{info: DeviceInfo{Name: "dry run", SMs: drySMs}}, tables: map[int]*dftTables{}}
	d := &dryRun{next: 16 << 40}
	e.l = &launcher{dry: d}
	e.layoutParams()
	e.params, e.grads, e.m, e.v = 1<<40, 2<<40, 3<<40, 4<<40
	e.shadow = e.params
	if prec == BF16 {
		e.shadow = 5 << 40
	}
	e.stats, e.normParts, e.normOut = 6<<40, 7<<40, 8<<40
	return e, d
}

func dryPass(t *testing.T, e *Engine, b *fnet.Batch, train bool) *pass {
	t.Helper()
	ps := e.planShape()
	a := planActivations(ps, b.B, b.S, b.K)
	a.bind(9<<40, ps.separateG)
	tb := &dftTables{S: b.S, H: e.cfg.HiddenSize, dtype: e.mixDType(), hidden: 10 << 40, cosS: 11 << 40, negSinS: 12 << 40, seqCat: 13 << 40}
	p, err := e.passFor(b, train, 3, 0.5, a, tb)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDryRunLaunchSequence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name      string
		heads     fnet.Heads
		numLabels int
		want      []string // kernels that must appear
	}{
		{"pretraining", fnet.PretrainingHeads, 0, []string{"mlm_xent", "seq_head_fwd", "pooler_bwd_x", "scatter_add_rows", "embed_bwd", "gelu_bwd_colsum"}},
		{"maskedlm", fnet.MaskedLMHeads, 0, []string{"mlm_xent", "gather_rows", "embed_bwd"}},
		{"classifier", fnet.ClassifierHeads, 3, []string{"seq_head_fwd", "seq_head_bwd_w", "pooler_bwd_w"}},
		{"regression", fnet.ClassifierHeads, 1, []string{"seq_head_fwd", "seq_head_bwd_x"}},
	}
	for _, tc := range cases {
		for _, prec := range []Precision{BF16, TF32, FP32} {
			for _, o := range []Options{{}, {BatchMajor: true}, {MixBF16: true}} {
				cfg := smallConfig(tc.numLabels)
				e, d := dryEngine(t, cfg, tc.heads, prec, o)
				b := randomBatch(rng, cfg, 3, 6, tc.numLabels)
				if tc.numLabels == 0 && !tc.heads.NSP {
					b.Labels = nil
				}
				p := dryPass(t, e, b, true)
				if err := p.forward(); err != nil {
					t.Fatalf("%s %v %+v forward: %v", tc.name, prec, o, err)
				}
				if err := p.backward(); err != nil {
					t.Fatalf("%s %v %+v backward: %v", tc.name, prec, o, err)
				}
				got := strings.Join(d.names(), " ")
				for _, w := range tc.want {
					if !strings.Contains(got, w) {
						t.Errorf("%s %v %+v: no %s launch", tc.name, prec, o, w)
					}
				}
				if !strings.Contains(got, "gemm") {
					t.Errorf("%s: no GEMMs", tc.name)
				}
				ev := dryPass(t, e, b, false)
				if err := ev.forward(); err != nil {
					t.Fatalf("%s %v evaluate: %v", tc.name, prec, err)
				}
			}
		}
	}
}

// The seq-major mixing is two GEMMs per application; batch-major is three.
func TestDryRunMixingGEMMs(t *testing.T) {
	cfg := smallConfig(0)
	for _, o := range []Options{{}, {BatchMajor: true}} {
		e, d := dryEngine(t, cfg, fnet.MaskedLMHeads, BF16, o)
		b := randomBatch(rand.New(rand.NewPCG(1, 1)), cfg, 2, 4, 0)
		p := dryPass(t, e, b, false)
		if err := p.fourierMix(1<<41, 2<<41, 0); err != nil {
			t.Fatal(err)
		}
		want := 2
		if o.BatchMajor {
			want = 3
		}
		if len(d.ops) != want {
			t.Errorf("%+v: mixing made %d GEMM calls %v, want %d", o, len(d.ops), d.names(), want)
		}
	}
}

func TestSeqMajorRoundTrip(t *testing.T) {
	x := make([]int, 2*3*4)
	for i := range x {
		x[i] = i
	}
	y := toSeqMajor(x, 2, 3)
	// row (b=1, s=2) of h=4 starts at (1·3+2)·4 = 20 batch-major and (2·2+1)·4 = 20 seq-major;
	// row (b=1, s=0): 12 batch-major, 4 seq-major
	if y[4] != 12 || y[20] != 20 || y[8] != 4 {
		t.Fatalf("toSeqMajor = %v", y)
	}
	z := fromSeqMajor(y, 2, 3)
	for i := range x {
		if z[i] != x[i] {
			t.Fatalf("round trip %v", z)
		}
	}
}

// The seq-major tables compute the same mixing as the batch-major ones.
func TestSeqMajorTablesMatch(t *testing.T) {
	S, H := 5, 7
	hidden, cosS, negSinS := hostDFTTables(S, H)
	h2, cat := seqMajorTables(S, H, hidden, cosS, negSinS)
	for k := 0; k < H; k++ {
		for j := 0; j < H; j++ {
			if h2[k*H+j] != hidden[k*2*H+j] || h2[H*H+k*H+j] != hidden[k*2*H+H+j] {
				t.Fatalf("hidden tables differ at %d,%d", k, j)
			}
		}
	}
	for i := 0; i < S; i++ {
		for j := 0; j < S; j++ {
			if cat[i*2*S+j] != cosS[i*S+j] || cat[i*2*S+S+j] != negSinS[i*S+j] {
				t.Fatalf("seq tables differ at %d,%d", i, j)
			}
		}
	}
}
