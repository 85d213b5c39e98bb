package cuda

import "fmt"

// activations are the buffers of one batch shape (B, S, K): what the
// forward pass keeps for the backward pass, per layer, plus scratch shared
// by all layers. GEMM-typed buffers ("…G") alias their float32 twins in
// tf32/fp32 mode.
type activations struct {
	B, S, K int
	arena   DevPtr
	plan    memPlan

	// batch inputs (int32 / float32), uploaded in one copy
	input                                         DevPtr
	ids, types, pos, labels, seqLabels            DevPtr
	weights, targets                              DevPtr
	inputWords                                    int
	offIDs, offTypes, offPos, offLabels, offSeqLb int
	offWeights, offTargets                        int

	// embeddings
	embXhat, embRstd, embLNG DevPtr

	// per layer l: x[l] is layer l's input, x[L] the encoder output
	x, xG               []DevPtr
	xhat1, rstd1, a, aG []DevPtr
	u, h                []DevPtr
	xhat2, rstd2        []DevPtr
	tmpH                DevPtr // mixing output / FFN output / projection output
	z1                  DevPtr // mixing intermediate [T, 2H]
	dCur, dNext, dA     DevPtr // float32 gradients of the residual stream
	dG                  DevPtr // GEMM-typed gradient [T, H]
	dFG, dUG            DevPtr // GEMM-typed [T, F]
	partials            DevPtr // column-sum partials
	partialFloats       int

	// masked-LM head, M = B·K rows
	gathG, uh, gh, xhatH, rstdH, hmG DevPtr
	logits, dlogitsG                 DevPtr
	dhm, dgh, du, duG, dgath         DevPtr

	// pooler + sequence head
	pooled, seqLogits, dSeqLogits, dz DevPtr
}

// planActivations lays out every buffer for batch shape (B, S, K); the
// plan's size is the arena the shape needs.
func planActivations(cfg planShape, B, S, K int) *activations {
	a := &activations{B: B, S: S, K: K}
	T, H, F, L, V := B*S, cfg.H, cfg.F, cfg.L, cfg.V
	M := B * K
	f32 := func(n int) uint64 { return 4 * uint64(n) }
	g := func(n int) uint64 { return uint64(cfg.gemmSize) * uint64(n) }
	mixG := func(n int) uint64 { return uint64(cfg.mixSize) * uint64(n) }
	p := &a.plan

	a.offIDs = 0
	a.offTypes = T
	a.offPos = 2 * T
	a.offLabels = 2*T + M
	a.offSeqLb = 2*T + 2*M
	a.offWeights = 2*T + 2*M + B
	a.offTargets = 2*T + 3*M + B
	a.inputWords = 2*T + 3*M + 2*B
	p.add("input", &a.input, f32(a.inputWords))

	p.add("emb.xhat", &a.embXhat, f32(T*H))
	p.add("emb.rstd", &a.embRstd, f32(T))
	p.add("emb.ln", &a.embLNG, g(T*H))

	a.x, a.xG = make([]DevPtr, L+1), make([]DevPtr, L+1)
	a.xhat1, a.rstd1, a.a, a.aG = make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L)
	a.u, a.h, a.xhat2, a.rstd2 = make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L)
	for l := 0; l <= L; l++ {
		p.add(fmt.Sprintf("x.%d", l), &a.x[l], f32(T*H))
		if cfg.separateG {
			p.add(fmt.Sprintf("x.%d.g", l), &a.xG[l], g(T*H))
		}
	}
	for l := 0; l < L; l++ {
		p.add(fmt.Sprintf("l%d.xhat1", l), &a.xhat1[l], f32(T*H))
		p.add(fmt.Sprintf("l%d.rstd1", l), &a.rstd1[l], f32(T))
		p.add(fmt.Sprintf("l%d.a", l), &a.a[l], f32(T*H))
		if cfg.separateG {
			p.add(fmt.Sprintf("l%d.a.g", l), &a.aG[l], g(T*H))
		}
		p.add(fmt.Sprintf("l%d.u", l), &a.u[l], g(T*F))
		p.add(fmt.Sprintf("l%d.h", l), &a.h[l], g(T*F))
		p.add(fmt.Sprintf("l%d.xhat2", l), &a.xhat2[l], f32(T*H))
		p.add(fmt.Sprintf("l%d.rstd2", l), &a.rstd2[l], f32(T))
	}
	p.add("tmpH", &a.tmpH, f32(T*H))
	p.add("z1", &a.z1, mixG(T*2*H))
	p.add("dCur", &a.dCur, f32(T*H))
	p.add("dNext", &a.dNext, f32(T*H))
	p.add("dA", &a.dA, f32(T*H))
	p.add("dG", &a.dG, g(T*H))
	p.add("dFG", &a.dFG, g(T*F))
	p.add("dUG", &a.dUG, g(T*F))
	cols := 2 * H
	for _, c := range []int{F, V} {
		if c > cols {
			cols = c
		}
	}
	chunks, _ := colsumChunks(max(T, M, 1))
	a.partialFloats = chunks * cols
	p.add("colsum.partials", &a.partials, f32(a.partialFloats))

	if M > 0 {
		p.add("mlm.gath", &a.gathG, g(M*H))
		p.add("mlm.u", &a.uh, f32(M*H))
		p.add("mlm.gelu", &a.gh, f32(M*H))
		p.add("mlm.xhat", &a.xhatH, f32(M*H))
		p.add("mlm.rstd", &a.rstdH, f32(M))
		p.add("mlm.h", &a.hmG, g(M*H))
		p.add("mlm.logits", &a.logits, f32(M*V))
		p.add("mlm.dlogits", &a.dlogitsG, g(M*V))
		p.add("mlm.dh", &a.dhm, f32(M*H))
		p.add("mlm.dgelu", &a.dgh, f32(M*H))
		p.add("mlm.du", &a.du, f32(M*H))
		p.add("mlm.du.g", &a.duG, g(M*H))
		p.add("mlm.dgath", &a.dgath, f32(M*H))
	}
	p.add("pooled", &a.pooled, f32(B*H))
	p.add("seq.logits", &a.seqLogits, f32(B*maxSeqHeadOutputs))
	p.add("seq.dlogits", &a.dSeqLogits, f32(B*maxSeqHeadOutputs))
	p.add("pooler.dz", &a.dz, f32(B*H))
	return a
}

// planShape is what the activation layout depends on besides the batch.
type planShape struct {
	H, F, L, V        int
	gemmSize, mixSize int  // bytes per GEMM-typed / mixing element
	separateG         bool // GEMM-typed copies are separate buffers (bf16)
}

func (e *Engine) planShape() planShape {
	mix := e.prec.gemmElemSize()
	if e.mixTF32 {
		mix = 4
	}
	return planShape{H: e.cfg.HiddenSize, F: e.cfg.IntermediateSize, L: e.cfg.NumLayers, V: e.cfg.VocabSize,
		gemmSize: e.prec.gemmElemSize(), mixSize: mix, separateG: e.prec == BF16}
}

// bind points the buffers into the arena at base and fills in the aliases.
func (a *activations) bind(base DevPtr, separateG bool) {
	a.arena = base
	a.plan.bind(base)
	a.ids = a.input + DevPtr(4*a.offIDs)
	a.types = a.input + DevPtr(4*a.offTypes)
	a.pos = a.input + DevPtr(4*a.offPos)
	a.labels = a.input + DevPtr(4*a.offLabels)
	a.seqLabels = a.input + DevPtr(4*a.offSeqLb)
	a.weights = a.input + DevPtr(4*a.offWeights)
	a.targets = a.input + DevPtr(4*a.offTargets)
	if !separateG {
		copy(a.xG, a.x)
		copy(a.aG, a.a)
	}
}

// activationsFor returns buffers for the batch shape, reallocating when it
// changes.
func (e *Engine) activationsFor(B, S, K int) (*activations, error) {
	if a := e.act; a != nil && a.B == B && a.S == S && a.K == K {
		return a, nil
	}
	if e.act != nil {
		if err := e.streamSync(); err != nil {
			return nil, err
		}
		_ = e.memFree(e.act.arena)
		e.act = nil
	}
	ps := e.planShape()
	a := planActivations(ps, B, S, K)
	base, err := e.memAlloc(a.plan.size())
	if err != nil {
		return nil, fmt.Errorf("activations for B=%d S=%d K=%d (%s): %w", B, S, K, a.plan.String(), err)
	}
	a.bind(base, ps.separateG)
	e.act = a
	return a, nil
}
