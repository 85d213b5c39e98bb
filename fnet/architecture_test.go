package fnet

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/safetensors"
)

// TestLayerMixing: every architecture and hybrid layout, against f_net's
// _is_attention_layer rules worked by hand.
func TestLayerMixing(t *testing.T) {
	const F, A, Li, R, I = "fourier", "attention", "linear", "random", "identity"
	cases := []struct {
		arch, layout string
		n, layers    int
		want         []string
	}{
		{"fnet", "", 0, 4, []string{F, F, F, F}},
		{"bert", "", 0, 3, []string{A, A, A}},
		{"linear", "", 0, 2, []string{Li, Li}},
		{"random", "", 0, 2, []string{R, R}},
		{"ff_only", "", 0, 2, []string{I, I}},
		{"fnet", "top", 2, 6, []string{F, F, F, F, A, A}}, // the paper's FNet-Hybrid
		{"fnet", "bottom", 2, 5, []string{A, A, F, F, F}},
		{"fnet", "middle", 2, 6, []string{F, F, A, A, F, F}}, // L−N ≤ 2l < L+N: 4 ≤ 2l < 8
		{"fnet", "middle", 1, 5, []string{F, F, A, F, F}},
		{"fnet", "mixed", 2, 6, []string{A, F, F, A, F, F}}, // l mod 3 = 0
		{"fnet", "mixed", 2, 5, []string{A, F, A, F, A}},    // l mod 2 = 0: three layers, as f_net gives
		{"linear", "top", 1, 3, []string{Li, Li, A}},
		{"ff_only", "bottom", 3, 3, []string{A, A, A}},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		c.NumLayers, c.Architecture, c.AttentionLayers, c.AttentionLayout = tc.layers, tc.arch, tc.n, tc.layout
		if err := c.Validate(); err != nil {
			t.Errorf("%s %s %d: %v", tc.arch, tc.layout, tc.n, err)
			continue
		}
		var got []string
		for _, k := range c.Mixings() {
			got = append(got, string(k))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s %d of %d: %v, want %v", tc.arch, tc.layout, tc.n, tc.layers, got, tc.want)
		}
	}
}

func TestArchitectureValidation(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Architecture = "transformer" }, `architecture "transformer"`},
		{func(c *Config) { c.AttentionLayout = "sides" }, `attention_layout "sides"`},
		{func(c *Config) { c.AttentionLayers = 13 }, "attention_layers = 13"},
		{func(c *Config) { c.Architecture, c.AttentionLayers = "bert", 2 }, "architecture bert"},
		{func(c *Config) { c.Architecture, c.NumHeads = "bert", 5 }, "num_attention_heads = 5 does not divide hidden_size 768"},
		{func(c *Config) { c.AttentionLayers, c.NumHeads = 1, 7 }, "does not divide"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", c, err, tc.want)
		}
	}
	// heads that would not divide matter only where attention runs
	c := DefaultConfig()
	c.NumHeads = 7
	if err := c.Validate(); err != nil {
		t.Errorf("fnet with num_attention_heads 7: %v", err)
	}
	if got := DefaultConfig().AttentionHeads(); got != 12 {
		t.Errorf("default heads at hidden 768: %d, want 12", got)
	}
}

// TestParamSpecsByArchitecture: names as Hugging Face's models have them,
// the embedding projection only where FNet has it, Random's matrices fixed.
func TestParamSpecsByArchitecture(t *testing.T) {
	base := tinyConfig()
	names := func(c Config) map[string]ParamSpec {
		out := map[string]ParamSpec{}
		for _, ps := range ParamSpecs(c, MaskedLMHeads) {
			out[c.HFName(ps.Name)] = ps
		}
		return out
	}
	bert := base
	bert.Architecture, bert.NumHeads = "bert", 2
	b := names(bert)
	for _, n := range []string{"bert.embeddings.word_embeddings.weight", "bert.encoder.layer.1.attention.self.query.weight",
		"bert.encoder.layer.0.attention.output.dense.bias", "bert.encoder.layer.0.attention.output.LayerNorm.weight", "cls.predictions.bias"} {
		if _, ok := b[n]; !ok {
			t.Errorf("bert has no %s", n)
		}
	}
	for n := range b {
		if strings.Contains(n, "projection") || strings.HasPrefix(n, "fnet.") || strings.Contains(n, "fourier") {
			t.Errorf("bert has %s", n)
		}
	}
	rnd := base
	rnd.Architecture = "random"
	r := names(rnd)
	for _, n := range []string{"fnet.encoder.layer.0.random.seq_matrix", "fnet.encoder.layer.1.random.hidden_matrix"} {
		if ps, ok := r[n]; !ok || !ps.Fixed || ps.Init != InitLecunNormal {
			t.Errorf("random %s: %+v", n, ps)
		}
	}
	if ps := r["fnet.encoder.layer.0.random.seq_matrix"]; !slices.Equal(ps.Shape, []int{base.SeqLen, base.SeqLen}) {
		t.Errorf("seq_matrix shape %v, want [S S] with S = seq_len %d", ps.Shape, base.SeqLen)
	}
	lin := base
	lin.Architecture = "linear"
	if ps := names(lin)["fnet.encoder.layer.0.linear.hidden_kernel"]; ps.Fixed || ps.Init != InitNormal {
		t.Errorf("linear hidden_kernel %+v", ps)
	}
	if n := len(TrainedSpecs(ParamSpecs(rnd, MaskedLMHeads))); n != len(ParamSpecs(rnd, MaskedLMHeads))-2*rnd.NumLayers {
		t.Errorf("%d trained specs: the fixed matrices are not all excluded", n)
	}
}

// TestCheckpointRoundTripEveryArchitecture: a bert checkpoint holds BERT's
// names (no fnet. prefix) and loads back as bert; a random one keeps its
// fixed matrices in the model file and none in the optimizer's.
func TestCheckpointRoundTripEveryArchitecture(t *testing.T) {
	for _, arch := range []string{"bert", "linear", "random", "ff_only", "hybrid"} {
		cfg, err := WithArchitecture(tinyConfig(), arch)
		if err != nil {
			t.Fatal(err)
		}
		cfg.NumHeads = 2
		dir := t.TempDir()
		params := InitParams(cfg, PretrainingHeads, 3)
		if err := SaveModel(filepath.Join(dir, ModelFile), cfg, PretrainingHeads, params); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
		if err != nil {
			t.Fatal(err)
		}
		for n := range f.Tensors {
			if arch == "bert" && strings.HasPrefix(n, "fnet.") {
				t.Errorf("bert checkpoint holds %s", n)
			}
		}
		m, err := LoadModel(dir)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if m.Config != cfg || m.Heads != PretrainingHeads {
			t.Errorf("%s: loaded %+v %s", arch, m.Config, m.Heads)
		}
		for name, want := range params {
			if !slices.Equal(m.Params[name], want) {
				t.Errorf("%s: %s changed", arch, name)
			}
		}
		trained := TrainedSpecs(ParamSpecs(cfg, PretrainingHeads))
		st := OptimizerState{Step: 3, M: map[string][]float32{}, V: map[string][]float32{}}
		for _, ps := range trained {
			st.M[ps.Name], st.V[ps.Name] = params[ps.Name], params[ps.Name]
		}
		op := filepath.Join(dir, OptimizerFile)
		if err := SaveOptimizer(op, cfg, PretrainingHeads, st); err != nil {
			t.Fatal(err)
		}
		of, _ := safetensors.ReadFile(op)
		if len(of.Tensors) != 2*len(trained) {
			t.Errorf("%s: optimizer file has %d tensors, want %d (trained parameters only)", arch, len(of.Tensors), 2*len(trained))
		}
		if _, err := LoadOptimizer(op, cfg, PretrainingHeads); err != nil {
			t.Errorf("%s: %v", arch, err)
		}
	}
}

// TestRandomMatricesStayFixed: training steps move every trained
// parameter of the Random model and leave its mixing matrices bit for bit,
// and the gradient norm does not include them.
func TestRandomMatricesStayFixed(t *testing.T) {
	cfg := tinyConfig()
	cfg.Architecture = "random"
	eng, err := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	before := mustParams(t, eng)
	b := SyntheticBatch(cfg, BenchShape{B: 2, S: cfg.SeqLen, K: 3}, 1)
	for i := 0; i < 3; i++ {
		if _, err := eng.ForwardBackward(b, uint64(i), 1); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Step(1e-2, 0); err != nil {
			t.Fatal(err)
		}
	}
	after := mustParams(t, eng)
	for _, ps := range ParamSpecs(cfg, PretrainingHeads) {
		same := slices.Equal(before[ps.Name], after[ps.Name])
		if ps.Fixed != same {
			t.Errorf("%s (fixed %v): unchanged %v", ps.Name, ps.Fixed, same)
		}
	}
	if _, ok := eng.Gradients()[LayerParam(0, RandomSeqMatrix)]; ok {
		t.Error("the fixed seq_matrix has a gradient")
	}
	st, _ := eng.Optimizer()
	if _, ok := st.M[LayerParam(0, RandomHiddenMatrix)]; ok {
		t.Error("the fixed hidden_matrix has optimizer moments")
	}
	// linear and random run only at seq_len: a shorter batch is refused by name
	short := SyntheticBatch(cfg, BenchShape{B: 2, S: cfg.SeqLen - 2, K: 3}, 1)
	if _, err := eng.ForwardBackward(short, 9, 1); err == nil || !strings.Contains(err.Error(), "seq_len") {
		t.Errorf("a length-%d batch: %v", cfg.SeqLen-2, err)
	}
}
