package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// A pass is one forward (and maybe backward) run of the model over a batch:
// its set-up (which heads run, the batch upload, the layout arguments the
// kernels take) and the loss sums it reads back. The layers it runs are
// in model.go.

// dropout holds one site's dropout arguments as the kernels take them.
type dropout struct {
	seed, step uint64
	site       uint32
	thr        uint32
	scale      float32
}

var noDropout = dropout{scale: 1}

func (e *Engine) dropoutAt(train bool, step uint64, site uint32) dropout {
	p := e.cfg.DropoutProb
	if !train || p <= 0 {
		return noDropout
	}
	return dropout{seed: e.seed, step: step, site: site, thr: fnet.DropoutThreshold(p), scale: float32(1 / (1 - p))}
}

// pass is one forward (and maybe backward) run over a batch.
type pass struct {
	e      *Engine
	a      *activations
	b      *fnet.Batch
	train  bool
	dstep  uint64
	scale  float32
	T, M   int
	tables *dftTables
	// which heads run on this batch
	mlm, nsp, task bool
	seqN           int
	seqMode        int32
	seqStat        int
}

func (e *Engine) newPass(b *fnet.Batch, train bool, dstep uint64, scale float32) (*pass, error) {
	if err := b.Validate(e.cfg); err != nil {
		return nil, err
	}
	if err := e.checkBatchShape(b); err != nil {
		return nil, err
	}
	a, err := e.activationsFor(b.B, b.S, b.K)
	if err != nil {
		return nil, err
	}
	var t *dftTables
	if e.cfg.HasMixing(fnet.MixFourier) {
		if t, err = e.tablesFor(b.S); err != nil {
			return nil, err
		}
	}
	p, err := e.passFor(b, train, dstep, scale, a, t)
	if err != nil {
		return nil, err
	}
	return p, p.upload()
}

// checkBatchShape refuses a batch shape some layer cannot run (before
// anything is allocated for it): linear and random mixing have S×S
// matrices, so they run at the model's seq_len only; the attention
// dropout's counter fields bound S (element i·S + j in 32 bits) and
// B·heads (the site's pair field, fnet.DropoutSiteAttention).
func (e *Engine) checkBatchShape(b *fnet.Batch) error {
	if (e.cfg.HasMixing(fnet.MixLinear) || e.cfg.HasMixing(fnet.MixRandom)) && b.S != e.cfg.SeqLen {
		return fmt.Errorf("cuda engine: batch sequence length %d: %s mixing has %d×%d sequence matrices and runs at the model's seq_len %d only",
			b.S, e.cfg.ArchString(), e.cfg.SeqLen, e.cfg.SeqLen, e.cfg.SeqLen)
	}
	if e.cfg.HasMixing(fnet.MixAttention) {
		heads := e.cfg.AttentionHeads()
		if b.S > 1<<16 {
			return fmt.Errorf("cuda engine: attention at sequence length %d: at most 65536 (the dropout element index i·S + j is 32 bits)", b.S)
		}
		if b.B*heads > 1<<20 {
			return fmt.Errorf("cuda engine: attention with batch %d × %d heads: at most 2^20 (example, head) pairs per batch (the dropout site's pair field)", b.B, heads)
		}
	}
	return nil
}

// passFor decides which heads run on the batch (no device work).
func (e *Engine) passFor(b *fnet.Batch, train bool, dstep uint64, scale float32, a *activations, t *dftTables) (*pass, error) {
	p := &pass{e: e, a: a, b: b, train: train, dstep: dstep, scale: scale, T: b.B * b.S, M: b.B * b.K, tables: t}
	h, err := fnet.PlanHeads(e.cfg, e.heads, b)
	if err != nil {
		return nil, fmt.Errorf("cuda engine: %w", err)
	}
	p.mlm, p.nsp, p.task, p.seqN = h.MLM, h.NSP, h.Task, h.SeqOutputs
	switch {
	case h.Task:
		p.seqStat = statTaskLoss
		if h.Regression {
			p.seqMode = 1
		}
	case h.NSP:
		p.seqStat = statNSPLoss
	}
	return p, nil
}

// dB is the kernels' layout argument: the batch size when token rows are
// seq-major, 0 when batch-major.
func (p *pass) dB() int32 {
	if p.e.seqMajor {
		return int32(p.b.B)
	}
	return 0
}

// seqMajorFlag is 1 for seq-major rows.
func (p *pass) seqMajorFlag() int32 {
	if p.e.seqMajor {
		return 1
	}
	return 0
}

// clsStride is the row distance between the sequences' [CLS] rows.
func (p *pass) clsStride() int32 {
	if p.e.seqMajor {
		return 1
	}
	return int32(p.b.S)
}

// upload copies the batch's ids, positions, labels and weights in one transfer.
func (p *pass) upload() error {
	a, b := p.a, p.b
	buf := make([]uint32, a.inputWords)
	put := func(off int, xs []int) {
		for i, x := range xs {
			buf[off+i] = uint32(int32(x))
		}
	}
	ids, types := b.InputIDs, b.TypeIDs
	if p.e.seqMajor {
		ids, types = toSeqMajor(ids, b.B, b.S), toSeqMajor(types, b.B, b.S)
	}
	put(a.offIDs, ids)
	put(a.offTypeIDs, types)
	if b.K > 0 {
		put(a.offMaskedPos, b.MaskedPos)
		put(a.offMaskedLabels, b.MaskedLabels)
		for i, w := range b.MaskedWeight {
			buf[a.offMaskedWeights+i] = math.Float32bits(w)
		}
	}
	if b.Labels != nil {
		put(a.offSeqLabels, b.Labels)
	}
	for i, t := range b.Targets {
		buf[a.offTargets+i] = math.Float32bits(t)
	}
	if a.offKeyMask >= 0 { // batch-major [B, S], whatever the row layout
		pad := p.e.cfg.PadTokenID
		for i, id := range b.InputIDs {
			if id != pad {
				buf[a.offKeyMask+i] = 1
			}
		}
	}
	e := p.e
	if err := e.htod(a.input, unsafe.Pointer(&buf[0]), 4*len(buf)); err != nil {
		return err
	}
	return e.memsetD32(e.stats, 0, 2*numStats)
}

// readStats copies the device's loss sums out (the one host round trip of a step).
func (p *pass) readStats() (fnet.Stats, error) {
	var s [numStats]float64
	if err := p.e.dtoh(unsafe.Pointer(&s[0]), p.e.stats, 8*numStats); err != nil {
		return fnet.Stats{}, err
	}
	st := fnet.Stats{Examples: p.b.B}
	if p.mlm {
		st.MLMLossSum, st.MLMCount, st.MLMCorrect = s[statMLMLoss], s[statMLMCount], s[statMLMCorrect]
	}
	if p.nsp && !p.task {
		st.NSPLossSum, st.NSPCorrect = s[statNSPLoss], s[statNSPCorrect]
	}
	if p.task {
		st.TaskLossSum, st.TaskCorrect = s[statTaskLoss], s[statTaskCorrect]
	}
	return st, nil
}
