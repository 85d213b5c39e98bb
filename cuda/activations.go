package cuda

import (
	"fmt"
	"slices"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// activations are the buffers of one batch shape (B, S, K): what the
// forward pass keeps for the backward pass, per layer, plus scratch shared
// by all layers. T = B·S token rows (seq-major on the device unless
// Options.BatchMajor), M = B·K masked rows, H hidden, F intermediate, V
// vocabulary, L layers. Types: f32 is float32; gemm is the GEMM operand
// type (bf16 in bf16 mode, else float32); mix is the Fourier, linear and
// random mixing GEMMs' type (float32 when they run in TF32). A G suffix marks the GEMM-typed copy
// of a float32 buffer; in tf32/fp32 mode it aliases its twin. NH = B·heads
// (example, head) pairs of the attention layers, d = H/heads.
//
// A buffer only some layer kinds need is planned only when the model has
// such a layer (and per layer only for those layers; other entries are 0):
// the DFT intermediate for Fourier mixing, z for linear/random mixing, the
// projections and the S×S scratch for attention, the key mask for
// attention, the embedding LayerNorm's GEMM-typed output for a model with
// the embedding projection.
type activations struct {
	B, S, K int
	arena   DevPtr
	plan    memPlan

	// batch inputs, uploaded in one copy into input
	input                                             DevPtr // [inputWords] 32-bit words holding all of the below
	ids, typeIDs                                      DevPtr // [T] i32 token and segment ids
	maskedPos, maskedLabels                           DevPtr // [M] i32 masked positions (within a sequence) and their token labels
	maskedWeights                                     DevPtr // [M] f32 masked-LM loss weights (0: padding slot)
	seqLabels                                         DevPtr // [B] i32 next-sentence or class labels
	targets                                           DevPtr // [B] f32 regression targets
	keyMask                                           DevPtr // [B, S] i32 1 for a real key, 0 for a pad (input_ids == pad id), batch-major in every row layout (attention only)
	inputWords                                        int
	offIDs, offTypeIDs, offMaskedPos, offMaskedLabels int // word offsets in input
	offSeqLabels, offMaskedWeights, offTargets        int
	offKeyMask                                        int // -1 without attention

	// embeddings: hidden[0] = dropout(embLN·Wpᵀ + bp), embLN = LayerNorm(word + pos + type);
	// without the projection (bert) hidden[0] = dropout(embLN), written by the LayerNorm
	embLNXhat DevPtr // [T, H] f32 x̂ of the embedding LayerNorm
	embLNRstd DevPtr // [T] f32 its 1/σ
	embLN     DevPtr // [T, H] gemm its output, the projection's input (with the projection only)

	// per layer i: the mixing sublayer mixLN = LayerNorm(hidden[i] + mix(hidden[i])),
	// the FFN sublayer hidden[i+1] = LayerNorm(mixLN + dropout(gelu(mixLN·W1ᵀ + b1)·W2ᵀ + b2))
	hidden, hiddenG      []DevPtr // [L+1][T, H] f32, gemm: hidden[0] the embeddings' output, hidden[i+1] layer i's; hidden[L] the encoder's
	mixLNXhat, mixLNRstd []DevPtr // [L][T, H], [L][T] f32 x̂ and 1/σ of the mixing LayerNorm
	mixLN, mixLNG        []DevPtr // [L][T, H] f32, gemm its output: the FFN's input and residual
	ffnPre               []DevPtr // [L][T, F] gemm mixLN·W1ᵀ, GELU's input (b1 added by the kernels)
	ffnGelu              []DevPtr // [L][T, F] gemm gelu(ffnPre + b1), the FFN output GEMM's input
	outLNXhat, outLNRstd []DevPtr // [L][T, H], [L][T] f32 x̂ and 1/σ of the output LayerNorm

	// scratch shared by the layers
	branch              DevPtr // [T, H] f32 a residual branch's GEMM output before its LayerNorm (projection, mixing, FFN out); backward: the gradient at embLN
	mixZ                DevPtr // [T, 2H] mix the mixing's hidden-axis DFT [x·C_H | x·S_H] (seq-major: [2][T, H])
	dLayerOut, dLayerIn DevPtr // [T, H] f32 the residual stream's gradient at the output and the input of the layer in backward (swapped per layer)
	dMixLN              DevPtr // [T, H] f32 the gradient at mixLN; embeddings backward: dropout(dLayerOut) for the TF32 projection data gradient (bf16 mode)
	dBranch             DevPtr // [T, H] gemm the gradient a branch's backward GEMMs read: at the FFN output (dropout applied), the mixing output, the projection output (dropout applied)
	dFFNGelu            DevPtr // [T, F] gemm the gradient at ffnGelu
	dFFNPre             DevPtr // [T, F] gemm the gradient at ffnPre
	colsumPartials      DevPtr // [colsumFloats] f32 column-sum partials (per chunk of rows, see colsum)
	colsumFloats        int

	// masked-LM head on the M masked rows:
	// mlmLogits = LayerNorm(gelu(mlmIn·Wdᵀ + bd))·Eᵀ (the tied decoder; its bias added by mlm_xent)
	mlmIn                DevPtr // [M, H] gemm the encoder output at the masked positions
	mlmPre               DevPtr // [M, H] f32 mlmIn·Wdᵀ, GELU's input
	mlmGelu              DevPtr // [M, H] f32 gelu(mlmPre + bd)
	mlmLNXhat, mlmLNRstd DevPtr // [M, H], [M] f32 x̂ and 1/σ of the head's LayerNorm
	mlmLN                DevPtr // [M, H] gemm its output, the decoder's input
	mlmLogits            DevPtr // [M, V] f32 decoder logits without the output bias
	dMLMLogits           DevPtr // [M, V] gemm the loss gradient at the logits (mlm_xent writes it, already scaled)
	dMLMLN               DevPtr // [M, H] f32 the gradient at mlmLN
	dMLMGelu             DevPtr // [M, H] f32 the gradient at mlmGelu
	dMLMPre, dMLMPreG    DevPtr // [M, H] f32, gemm the gradient at mlmPre
	dMLMIn               DevPtr // [M, H] f32 the gradient at mlmIn (scattered into dLayerOut)

	// pooler and sentence head on the B [CLS] rows:
	// pooled = tanh(hidden[L][CLS]·Wpᵀ + bp), seqLogits = pooled·Wᵀ + b
	pooled     DevPtr // [B, H] f32
	seqLogits  DevPtr // [B, maxSeqHeadOutputs] f32 (B·n used; n = 2 for NSP, the classifier's outputs)
	dSeqLogits DevPtr // [B, maxSeqHeadOutputs] f32 the loss gradient at seqLogits (already scaled)
	dPoolerPre DevPtr // [B, H] f32 the gradient at the pooler's pre-tanh

	// linear and random mixing (mix_linear.go): y_b = seq·z_b, z = x·hidden
	denseZ  []DevPtr // [L][T, H] mix z of each linear layer (the seq kernel's gradient reads it); 0 for other layers
	randomZ DevPtr   // [T, H] mix z of the random layer being computed (its fixed matrices need no z later)
	denseDZ DevPtr   // [T, H] mix the gradient at z

	// attention layers (mix_attention.go), per attention layer i (0 for other layers):
	attnQ, attnK, attnV []DevPtr // [L][T, H] gemm q = x·Wqᵀ + bq, k, v (head h = columns h·d … (h+1)·d−1)
	attnCtx             []DevPtr // [L][T, H] gemm ctx = P̃·v per head, the output projection's input
	// scratch of one attention layer and one chunk of attnChunk pairs at a time (NC = attnChunk)
	attnChunk              int    // (example, head) pairs per chunk (attnChunkPairs)
	attnScores             DevPtr // [NC, S, S] f32 q·kᵀ per pair; backward: P, the recomputed probabilities, in place
	attnProbs              DevPtr // [NC, S, S] gemm P̃ = dropout(P), ctx's GEMM input; backward: then dS, the gradient at q·kᵀ
	attnDProbs             DevPtr // [NC, S, S] f32 the gradient at P̃ (dctx·vᵀ)
	attnDCtx               DevPtr // [T, H] gemm the gradient at ctx
	attnDQ, attnDK, attnDV DevPtr // [T, H] gemm the gradients at q, k, v

	// the FFN's cuBLASLt epilogues (Options.Fuse has FuseEpilogue, layer_ffn.go), planned only then
	ltWorkspace DevPtr // [ltWorkspaceBytes] cuBLASLt's workspace
	ltBiasGrad  DevPtr // [F] f32 the bias gradient DGELU_BGRAD writes (added into the gradient after)
	ltBiasGradG DevPtr // [F] gemm the same when cuBLASLt writes it only in the GEMM type (widened into ltBiasGrad)
	ltFFN       ffnLt  // which epilogue variants this batch shape runs (layer_ffn.go)
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
	a.offTypeIDs = T
	a.offMaskedPos = 2 * T
	a.offMaskedLabels = 2*T + M
	a.offSeqLabels = 2*T + 2*M
	a.offMaskedWeights = 2*T + 2*M + B
	a.offTargets = 2*T + 3*M + B
	a.inputWords = 2*T + 3*M + 2*B
	a.offKeyMask = -1
	attention := slices.Contains(cfg.mix, fnet.MixAttention)
	if attention {
		a.offKeyMask = a.inputWords
		a.inputWords += T
	}
	p.add("input", &a.input, f32(a.inputWords))

	p.add("embLNXhat", &a.embLNXhat, f32(T*H))
	p.add("embLNRstd", &a.embLNRstd, f32(T))
	if cfg.embProj {
		p.add("embLN", &a.embLN, g(T*H))
	}

	a.hidden, a.hiddenG = make([]DevPtr, L+1), make([]DevPtr, L+1)
	a.mixLNXhat, a.mixLNRstd, a.mixLN, a.mixLNG = make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L)
	a.ffnPre, a.ffnGelu, a.outLNXhat, a.outLNRstd = make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L)
	for l := 0; l <= L; l++ {
		p.add(fmt.Sprintf("hidden.%d", l), &a.hidden[l], f32(T*H))
		if cfg.separateG {
			p.add(fmt.Sprintf("hiddenG.%d", l), &a.hiddenG[l], g(T*H))
		}
	}
	for l := 0; l < L; l++ {
		p.add(fmt.Sprintf("l%d.mixLNXhat", l), &a.mixLNXhat[l], f32(T*H))
		p.add(fmt.Sprintf("l%d.mixLNRstd", l), &a.mixLNRstd[l], f32(T))
		p.add(fmt.Sprintf("l%d.mixLN", l), &a.mixLN[l], f32(T*H))
		if cfg.separateG {
			p.add(fmt.Sprintf("l%d.mixLNG", l), &a.mixLNG[l], g(T*H))
		}
		p.add(fmt.Sprintf("l%d.ffnPre", l), &a.ffnPre[l], g(T*F))
		p.add(fmt.Sprintf("l%d.ffnGelu", l), &a.ffnGelu[l], g(T*F))
		p.add(fmt.Sprintf("l%d.outLNXhat", l), &a.outLNXhat[l], f32(T*H))
		p.add(fmt.Sprintf("l%d.outLNRstd", l), &a.outLNRstd[l], f32(T))
	}
	p.add("branch", &a.branch, f32(T*H))
	if slices.Contains(cfg.mix, fnet.MixFourier) {
		p.add("mixZ", &a.mixZ, mixG(T*2*H))
	}
	p.add("dLayerOut", &a.dLayerOut, f32(T*H))
	p.add("dLayerIn", &a.dLayerIn, f32(T*H))
	p.add("dMixLN", &a.dMixLN, f32(T*H))
	p.add("dBranch", &a.dBranch, g(T*H))
	p.add("dFFNGelu", &a.dFFNGelu, g(T*F))
	p.add("dFFNPre", &a.dFFNPre, g(T*F))
	cols := 2 * H
	for _, c := range []int{F, V} {
		if c > cols {
			cols = c
		}
	}
	chunks, _ := colsumChunks(max(T, M, 1))
	a.colsumFloats = chunks * cols
	p.add("colsumPartials", &a.colsumPartials, f32(a.colsumFloats))

	if M > 0 {
		p.add("mlmIn", &a.mlmIn, g(M*H))
		p.add("mlmPre", &a.mlmPre, f32(M*H))
		p.add("mlmGelu", &a.mlmGelu, f32(M*H))
		p.add("mlmLNXhat", &a.mlmLNXhat, f32(M*H))
		p.add("mlmLNRstd", &a.mlmLNRstd, f32(M))
		p.add("mlmLN", &a.mlmLN, g(M*H))
		p.add("mlmLogits", &a.mlmLogits, f32(M*V))
		p.add("dMLMLogits", &a.dMLMLogits, g(M*V))
		p.add("dMLMLN", &a.dMLMLN, f32(M*H))
		p.add("dMLMGelu", &a.dMLMGelu, f32(M*H))
		p.add("dMLMPre", &a.dMLMPre, f32(M*H))
		p.add("dMLMPreG", &a.dMLMPreG, g(M*H))
		p.add("dMLMIn", &a.dMLMIn, f32(M*H))
	}
	p.add("pooled", &a.pooled, f32(B*H))
	p.add("seqLogits", &a.seqLogits, f32(B*maxSeqHeadOutputs))
	p.add("dSeqLogits", &a.dSeqLogits, f32(B*maxSeqHeadOutputs))
	p.add("dPoolerPre", &a.dPoolerPre, f32(B*H))

	a.denseZ = make([]DevPtr, L)
	a.attnQ, a.attnK, a.attnV, a.attnCtx = make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L), make([]DevPtr, L)
	for l, k := range cfg.mix {
		switch k {
		case fnet.MixLinear:
			p.add(fmt.Sprintf("l%d.denseZ", l), &a.denseZ[l], mixG(T*H))
		case fnet.MixAttention:
			p.add(fmt.Sprintf("l%d.attnQ", l), &a.attnQ[l], g(T*H))
			p.add(fmt.Sprintf("l%d.attnK", l), &a.attnK[l], g(T*H))
			p.add(fmt.Sprintf("l%d.attnV", l), &a.attnV[l], g(T*H))
			p.add(fmt.Sprintf("l%d.attnCtx", l), &a.attnCtx[l], g(T*H))
		}
	}
	if slices.Contains(cfg.mix, fnet.MixRandom) {
		p.add("randomZ", &a.randomZ, mixG(T*H))
	}
	if slices.Contains(cfg.mix, fnet.MixLinear) || slices.Contains(cfg.mix, fnet.MixRandom) {
		p.add("denseDZ", &a.denseDZ, mixG(T*H))
	}
	if attention {
		a.attnChunk = attnChunkPairs(B, S, cfg.heads, cfg.seqMajor, cfg.attnChunk)
		NC := a.attnChunk
		p.add("attnScores", &a.attnScores, f32(NC*S*S))
		p.add("attnProbs", &a.attnProbs, g(NC*S*S))
		p.add("attnDProbs", &a.attnDProbs, f32(NC*S*S))
		p.add("attnDCtx", &a.attnDCtx, g(T*H))
		p.add("attnDQ", &a.attnDQ, g(T*H))
		p.add("attnDK", &a.attnDK, g(T*H))
		p.add("attnDV", &a.attnDV, g(T*H))
	}
	if cfg.fuseEpilogue {
		p.add("ltWorkspace", &a.ltWorkspace, ltWorkspaceBytes)
		p.add("ltBiasGrad", &a.ltBiasGrad, f32(F))
		p.add("ltBiasGradG", &a.ltBiasGradG, g(F))
	}
	return a
}

// planShape is what the activation layout depends on besides the batch.
type planShape struct {
	H, F, L, V        int
	gemmSize, mixSize int            // bytes per GEMM-typed / mixing element
	separateG         bool           // GEMM-typed copies are separate buffers (bf16)
	mix               []fnet.MixKind // each layer's mixing
	heads             int            // attention heads
	embProj           bool           // the embeddings end in a projection (every architecture but bert)
	seqMajor          bool           // token rows s·B + b
	attnChunk         int            // Options.AttentionChunkPairs (0: by attnScratchElems)
	fuseEpilogue      bool           // the FFN GEMMs may run with cuBLASLt epilogues (workspace, bias gradient)
}

// attnScratchElems bounds the attention's S×S scratch: a chunk of pairs
// holds at most this many score elements (when one pair alone has more, a
// chunk is one pair, or one example with batch-major rows). Three buffers
// of that size (float32 scores, GEMM-typed P̃, float32 dP̃): 1.25 GiB in
// bf16 mode. BERT-base at S = 512 fits 42 examples' 12 heads in one chunk.
const attnScratchElems = 1 << 27

// attnChunkPairs is how many (example, head) pairs of the B·heads one
// attention chunk covers: want when set (tests), else as many as
// attnScratchElems allows, at least one; with batch-major rows a chunk is
// whole examples (all their heads).
func attnChunkPairs(B, S, heads int, seqMajor bool, want int) int {
	n := want
	if n <= 0 {
		n = attnScratchElems / (S * S)
	}
	n = max(1, min(n, B*heads))
	if !seqMajor {
		n = max(heads, n/heads*heads)
	}
	return n
}

func (e *Engine) planShape() planShape {
	mix := e.prec.gemmElemSize()
	if e.mixTF32 {
		mix = 4
	}
	return planShape{H: e.cfg.HiddenSize, F: e.cfg.IntermediateSize, L: e.cfg.NumLayers, V: e.cfg.VocabSize,
		gemmSize: e.prec.gemmElemSize(), mixSize: mix, separateG: e.prec == BF16,
		mix: e.cfg.Mixings(), heads: e.cfg.AttentionHeads(), embProj: e.cfg.HasEmbeddingProjection(),
		seqMajor: e.seqMajor, attnChunk: e.attnChunk, fuseEpilogue: e.fuse.Has(FuseEpilogue)}
}

// bind points the buffers into the arena at base and fills in the aliases.
func (a *activations) bind(base DevPtr, separateG bool) {
	a.arena = base
	a.plan.bind(base)
	a.ids = a.input + DevPtr(4*a.offIDs)
	a.typeIDs = a.input + DevPtr(4*a.offTypeIDs)
	a.maskedPos = a.input + DevPtr(4*a.offMaskedPos)
	a.maskedLabels = a.input + DevPtr(4*a.offMaskedLabels)
	a.seqLabels = a.input + DevPtr(4*a.offSeqLabels)
	a.maskedWeights = a.input + DevPtr(4*a.offMaskedWeights)
	a.targets = a.input + DevPtr(4*a.offTargets)
	if a.offKeyMask >= 0 {
		a.keyMask = a.input + DevPtr(4*a.offKeyMask)
	}
	if !separateG {
		copy(a.hiddenG, a.hidden)
		copy(a.mixLNG, a.mixLN)
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
