package fnet

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graph is one compiled FNet computation for a fixed batch shape: the
// forward pass, the losses of the present heads and, for training graphs,
// the symbolic gradients of every parameter. Parameters are input nodes
// bound to the engine's float32 slices, so updating those slices in place is
// all an optimizer step needs to do.
type graph struct {
	g  *G.ExprGraph
	vm G.VM

	B, S, K int
	train   bool

	params map[string]*G.Node
	grads  map[string]*G.Node // nil unless train

	// host buffers bound to the input nodes; filled before each run
	ids, types, mlmPos, mlmLabels, labels, clsPos []int
	mlmWeights, targets                           []float32
	keyMask                                       []float32 // [B·S] 1 for a real token, 0 for pad (attention layers only)
	padID                                         int

	loss                      *G.Node
	embeddings, mlmLogits     *G.Node   // activations, for parity checks and inference
	layers                    []*G.Node // each layer's output
	pooled                    *G.Node   // tanh pooler output [B, H], when the model has a pooler
	nspLogits                 *G.Node   // segment-order logits [B, 2]
	taskLogits                *G.Node   // classifier logits [B, NumLabels]
	mlmStats, nspStats, cStat ceStats
	mseSum                    float64
}

// graphSpec is what a graph is built for.
type graphSpec struct {
	cfg     Config
	heads   Heads
	B, S, K int
	train   bool    // dropout on, gradients built
	dropout float64 // drop probability when train
	ctr     *dropoutCounter
	mixer   *kernels.FourierMixer
}

func buildGraph(spec graphSpec, params map[string][]float32) (gr *graph, err error) {
	defer func() {
		// the op constructors panic on shape mistakes, which are programming
		// errors; report them as errors with context rather than crash a run
		if r := recover(); r != nil {
			err = fmt.Errorf("fnet: building the graph for B=%d S=%d K=%d: %v", spec.B, spec.S, spec.K, r)
		}
	}()
	c, h := spec.cfg, spec.heads
	B, S, K := spec.B, spec.S, spec.K
	g := G.NewGraph()
	gr = &graph{g: g, B: B, S: S, K: K, train: spec.train, params: map[string]*G.Node{}}

	specs := ParamSpecs(c, h)
	wrt := make(G.Nodes, 0, len(specs))
	for _, ps := range specs {
		data, ok := params[ps.Name]
		if !ok {
			return nil, fmt.Errorf("fnet: parameter %s missing", ps.Name)
		}
		t := tensor.New(tensor.WithShape(ps.Shape...), tensor.WithBacking(data))
		var n *G.Node
		if len(ps.Shape) == 1 {
			n = G.NewVector(g, tensor.Float32, G.WithShape(ps.Shape...), G.WithName(ps.Name), G.WithValue(t))
		} else {
			n = G.NewMatrix(g, tensor.Float32, G.WithShape(ps.Shape...), G.WithName(ps.Name), G.WithValue(t))
		}
		gr.params[ps.Name] = n
		if !ps.Fixed { // the Random model's matrices get no gradient
			wrt = append(wrt, n)
		}
	}
	p := func(name string) *G.Node { return gr.params[name] }
	intInput := func(name string, buf *[]int, n int) *G.Node {
		*buf = make([]int, n)
		return G.NewVector(g, tensor.Int, G.WithShape(n), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(*buf))))
	}
	f32Input := func(name string, buf *[]float32, n int) *G.Node {
		*buf = make([]float32, n)
		return G.NewVector(g, tensor.Float32, G.WithShape(n), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(*buf))))
	}
	ids := intInput("input_ids", &gr.ids, B*S)
	types := intInput("token_type_ids", &gr.types, B*S)
	drop := spec.train && spec.dropout > 0

	var keyMask *G.Node
	if c.HasMixing(MixAttention) {
		keyMask = f32Input("key_mask", &gr.keyMask, B*S)
		gr.padID = c.PadTokenID
	}

	// embeddings: LayerNorm(word + position + type), FNet's projection, dropout
	x := embedding(p(WordEmbName), p(PosEmbName), p(TypeEmbName), ids, types, B, S)
	x = layerNorm(x, nil, p(EmbLNWeight), p(EmbLNBias), c.LayerNormEps)
	if c.HasEmbeddingProjection() {
		x = linear(x, p(EmbProjWeight), p(EmbProjBias), ActNone)
	}
	if drop {
		x = dropout(x, spec.dropout, DropoutSiteEmbeddings, spec.ctr)
	}
	gr.embeddings = x
	for l := 0; l < c.NumLayers; l++ {
		lp := func(s string) *G.Node { return p(LayerParam(l, s)) }
		kind := c.LayerMixing(l)
		var mixed *G.Node
		switch kind {
		case MixFourier:
			mixed = fourierMix(x, spec.mixer, B)
		case MixLinear, MixRandom:
			hidden, seq := MixKernelNames(kind)
			mixed = denseMix(x, lp(hidden), lp(seq), B, S, kind == MixLinear)
		case MixIdentity:
			mixed = x // FF-only: LayerNorm(x + x)
		case MixAttention:
			mixed = attentionMix(x, keyMask, lp, spec, l)
		}
		lnW, lnB := MixLNNames(kind)
		x = layerNorm(x, mixed, lp(lnW), lp(lnB), c.LayerNormEps)
		f := linear(x, lp(FFInW), lp(FFInB), c.GELU())
		f = linear(f, lp(FFOutW), lp(FFOutB), ActNone)
		if drop {
			f = dropout(f, spec.dropout, DropoutSiteFFN(l), spec.ctr)
		}
		x = layerNorm(x, f, lp(OutLNWeight), lp(OutLNBias), c.LayerNormEps)
		gr.layers = append(gr.layers, x)
	}

	var losses []*G.Node
	if h.MLM && K > 0 {
		pos := intInput("masked_positions", &gr.mlmPos, B*K)
		lbl := intInput("masked_labels", &gr.mlmLabels, B*K)
		w := f32Input("masked_weights", &gr.mlmWeights, B*K)
		t := gatherRows(x, pos, B, S, K)
		t = linear(t, p(MLMDenseW), p(MLMDenseB), c.GELU())
		t = layerNorm(t, nil, p(MLMLNWeight), p(MLMLNBias), c.LayerNormEps)
		gr.mlmLogits = linear(t, p(WordEmbName), p(MLMBias), ActNone) // decoder tied to the word embeddings
		losses = append(losses, softmaxCE(gr.mlmLogits, lbl, w, &gr.mlmStats))
	}
	var pooled *G.Node
	if h.Pooler {
		cls := intInput("cls_positions", &gr.clsPos, B) // all zero: the [CLS] row
		pooled = linear(gatherRows(x, cls, B, S, 1), p(PoolerWeight), p(PoolerBias), ActTanh)
		gr.pooled = pooled
	}
	if h.NSP {
		lbl := intInput("next_sentence_labels", &gr.labels, B)
		gr.nspLogits = linear(pooled, p(NSPWeight), p(NSPBias), ActNone)
		losses = append(losses, softmaxCE(gr.nspLogits, lbl, nil, &gr.nspStats))
	}
	if h.Classifier {
		gr.taskLogits = linear(pooled, p(ClsWeight), p(ClsBias), ActNone)
		if c.NumLabels == 1 {
			t := f32Input("targets", &gr.targets, B)
			losses = append(losses, mseLoss(gr.taskLogits, t, &gr.mseSum))
		} else {
			lbl := intInput("labels", &gr.labels, B)
			losses = append(losses, softmaxCE(gr.taskLogits, lbl, nil, &gr.cStat))
		}
	}
	if len(losses) == 0 {
		return nil, fmt.Errorf("fnet: no loss: the heads %+v need masked positions (K=%d) or labels", h, K)
	}
	gr.loss = losses[0]
	for _, l := range losses[1:] {
		gr.loss = scalarSum(gr.loss, l)
	}

	if spec.train {
		// Parameters a loss does not reach (e.g. the pooler of a graph
		// without NSP) get no gradient node.
		reach := reachable(g, gr.loss)
		var used G.Nodes
		for _, n := range wrt {
			if reach[n] {
				used = append(used, n)
			}
		}
		gs, err := G.Grad(gr.loss, used...)
		if err != nil {
			return nil, fmt.Errorf("fnet: differentiating the graph: %w", err)
		}
		gr.grads = make(map[string]*G.Node, len(gs))
		for i, n := range used {
			gr.grads[n.Name()] = gs[i]
		}
	}
	gr.vm = G.NewTapeMachine(g)
	return gr, nil
}

// reachable is the set of nodes the loss depends on.
func reachable(g *G.ExprGraph, root *G.Node) map[*G.Node]bool {
	seen := map[*G.Node]bool{}
	stack := []*G.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		for it := g.From(n.ID()); it.Next(); {
			stack = append(stack, it.Node().(*G.Node))
		}
	}
	return seen
}

// load copies a batch into the graph's input buffers.
func (gr *graph) load(b *Batch) {
	copy(gr.ids, b.InputIDs)
	copy(gr.types, b.TypeIDs)
	if gr.mlmPos != nil {
		copy(gr.mlmPos, b.MaskedPos)
		copy(gr.mlmLabels, b.MaskedLabels)
		copy(gr.mlmWeights, b.MaskedWeight)
	}
	if gr.labels != nil {
		copy(gr.labels, b.Labels)
	}
	if gr.targets != nil {
		copy(gr.targets, b.Targets)
	}
	if gr.keyMask != nil {
		for i, id := range b.InputIDs {
			gr.keyMask[i] = 1
			if id == gr.padID {
				gr.keyMask[i] = 0
			}
		}
	}
}

// run executes the whole tape once.
func (gr *graph) run() error {
	gr.vm.Reset()
	return gr.vm.RunAll()
}

// stats collects the sums of the last run.
func (gr *graph) stats(cfg Config) Stats {
	s := Stats{Examples: gr.B}
	if gr.mlmPos != nil {
		s.MLMLossSum, s.MLMCount, s.MLMCorrect = gr.mlmStats.lossSum, gr.mlmStats.weightSum, gr.mlmStats.correct
	}
	s.NSPLossSum, s.NSPCorrect = gr.nspStats.lossSum, gr.nspStats.correct
	if gr.taskLogits != nil {
		if cfg.NumLabels == 1 {
			s.TaskLossSum = gr.mseSum
		} else {
			s.TaskLossSum, s.TaskCorrect = gr.cStat.lossSum, gr.cStat.correct
		}
	}
	return s
}

// value returns a node's float32 data after a run.
func value(n *G.Node) []float32 {
	return f32s(n.Value())
}
