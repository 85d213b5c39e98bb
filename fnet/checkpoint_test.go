package fnet

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/safetensors"
)

func tinyConfig() Config {
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumLayers, c.IntermediateSize, c.MaxPositions, c.SeqLen = 40, 8, 2, 16, 16, 12
	return c
}

func TestCheckpointRoundTrip(t *testing.T) {
	cfg := tinyConfig()
	params := InitParams(cfg, PretrainingHeads, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, ModelFile)
	if err := SaveModel(path, cfg, PretrainingHeads, params); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(dir) // a checkpoint directory works too
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != cfg {
		t.Errorf("config changed: %+v vs %+v", m.Config, cfg)
	}
	if m.Heads != PretrainingHeads {
		t.Errorf("heads %+v, want %+v", m.Heads, PretrainingHeads)
	}
	for name, want := range params {
		got := m.Params[name]
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	// optimizer state
	opt := OptimizerState{Step: 42, M: InitParams(cfg, PretrainingHeads, 4), V: InitParams(cfg, PretrainingHeads, 5)}
	op := filepath.Join(dir, OptimizerFile)
	if err := SaveOptimizer(op, cfg, PretrainingHeads, opt); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOptimizer(op, cfg, PretrainingHeads)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 42 || got.M[WordEmbName][7] != opt.M[WordEmbName][7] || got.V[MLMBias][3] != opt.V[MLMBias][3] {
		t.Error("optimizer state changed in the round trip")
	}
	if _, err := LoadOptimizer(op, cfg, ClassifierHeads); err == nil || !strings.Contains(err.Error(), "classifier.weight") {
		t.Errorf("optimizer for other heads: err = %v", err)
	}
}

func TestCheckpointErrors(t *testing.T) {
	cfg := tinyConfig()
	params := InitParams(cfg, PretrainingHeads, 3)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveModel(good, cfg, PretrainingHeads, params); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	// truncated and corrupt files name the file
	for _, p := range []string{write("trunc.safetensors", data[:len(data)/2]), write("junk.safetensors", []byte("not a checkpoint at all"))} {
		if _, err := LoadModel(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v", p, err)
		}
	}
	// a flipped byte in the header length
	bad := append([]byte{}, data...)
	binary.LittleEndian.PutUint64(bad, binary.LittleEndian.Uint64(bad)+3)
	if _, err := LoadModel(write("hdr.safetensors", bad)); err == nil {
		t.Error("corrupt header length accepted")
	}
	// mismatched: missing, misshaped and unexpected tensors are all listed
	f, _ := safetensors.ReadFile(good)
	var entries []safetensors.Entry
	for _, n := range f.Names() {
		tn := f.Tensors[n]
		switch n {
		case PoolerWeight: // drop it
			continue
		case LayerParam(1, FFInW): // wrong shape
			entries = append(entries, safetensors.Entry{Name: n, Shape: []int{3, 3}, F32: make([]float32, 9)})
			continue
		}
		entries = append(entries, safetensors.Entry{Name: n, Shape: tn.Shape, F32: tn.F32})
	}
	entries = append(entries, safetensors.Entry{Name: "bert.extra.weight", Shape: []int{2}, F32: []float32{1, 2}})
	mm := filepath.Join(dir, "mismatch.safetensors")
	if err := safetensors.WriteFile(mm, entries, f.Metadata); err != nil {
		t.Fatal(err)
	}
	_, err := LoadModelFile(mm, cfg, PretrainingHeads)
	if err == nil {
		t.Fatal("mismatched checkpoint accepted")
	}
	for _, want := range []string{mm, "missing 1: " + PoolerWeight, "misshaped 1: " + LayerParam(1, FFInW), "unexpected 1: bert.extra.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// a config that does not describe the file
	other := cfg
	other.HiddenSize = 16
	if _, err := LoadModelFile(good, other, PretrainingHeads); err == nil || !strings.Contains(err.Error(), "misshaped") {
		t.Errorf("wrong hidden size: err = %v", err)
	}
	// a failed save leaves the previous file intact
	if err := SaveModel(good, cfg, PretrainingHeads, map[string][]float32{}); err == nil {
		t.Error("saving an incomplete parameter set succeeded")
	}
	if after, _ := os.ReadFile(good); len(after) != len(data) {
		t.Error("a failed save changed the existing checkpoint")
	}
}

// TestLoadsHuggingFaceLayout builds what a user gets from converting
// google/fnet-base's pytorch_model.bin to safetensors: bare FNetModel-style
// names, the tied decoder aliases, position_ids, BF16/F16 tensors and the
// config in a config.json beside the file.
func TestLoadsHuggingFaceLayout(t *testing.T) {
	cfg := tinyConfig()
	cfg.SeqLen = cfg.MaxPositions
	params := InitParams(cfg, PretrainingHeads, 9)
	dir := t.TempDir()
	var entries []safetensors.Entry
	for _, ps := range ParamSpecs(cfg, PretrainingHeads) {
		entries = append(entries, safetensors.Entry{Name: ps.Name, Shape: ps.Shape, F32: params[ps.Name]})
	}
	entries = append(entries,
		safetensors.Entry{Name: MLMDecoderWeight, Shape: []int{cfg.VocabSize, cfg.HiddenSize}, F32: params[WordEmbName]},
		safetensors.Entry{Name: PositionIDs, Shape: []int{1, cfg.MaxPositions}, Int: make([]int, cfg.MaxPositions)})
	path := filepath.Join(dir, "model.safetensors")
	if err := safetensors.WriteFile(path, entries, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModel(path); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("no config anywhere: err = %v", err)
	}
	hf := `{"architectures":["FNetForPreTraining"],"model_type":"fnet","vocab_size":40,"hidden_size":8,
	"num_hidden_layers":2,"intermediate_size":16,"max_position_embeddings":16,"type_vocab_size":4,
	"hidden_act":"gelu_new","hidden_dropout_prob":0.1,"initializer_range":0.02,"layer_norm_eps":1e-12,
	"pad_token_id":3,"bos_token_id":1,"eos_token_id":2,"use_tpu_fourier_optimizations":false,"tpu_short_seq_length":512}`
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(hf), 0o644)
	m, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != cfg || m.Heads != PretrainingHeads {
		t.Errorf("config %+v heads %+v", m.Config, m.Heads)
	}
	for name, want := range params {
		if !slices.Equal(m.Params[name], want) {
			t.Errorf("%s: loaded values differ from the F32 file's", name)
		}
	}
	// the same checkpoint stored in half precision, as transformers'
	// save_pretrained writes it with torch_dtype=float16 / bfloat16
	for _, dtype := range []string{"F16", "BF16"} {
		t.Run(dtype, func(t *testing.T) {
			half := filepath.Join(t.TempDir(), "model.safetensors")
			os.WriteFile(filepath.Join(filepath.Dir(half), "config.json"), []byte(hf), 0o644)
			want := writeHalfCheckpoint(t, half, dtype, ParamSpecs(cfg, PretrainingHeads), cfg)
			m, err := LoadModel(half)
			if err != nil {
				t.Fatal(err)
			}
			if m.Config != cfg || m.Heads != PretrainingHeads {
				t.Errorf("config %+v heads %+v", m.Config, m.Heads)
			}
			for name, w := range want {
				got := m.Params[name]
				for i := range w {
					if math.Float32bits(got[i]) != math.Float32bits(w[i]) { // bit-exact: -0 stays -0
						t.Fatalf("%s[%d] = %v (bits %08x), want %v", name, i, got[i], math.Float32bits(got[i]), w[i])
					}
				}
			}
		})
	}
}

// halfPatterns are fixed 16-bit patterns with their exact float32 values:
// normals of both signs, zero and minus zero, the smallest subnormal and
// the largest finite value of each format.
var halfPatterns = map[string][]struct {
	bits uint16
	val  float32
}{
	"F16": {{0x3C00, 1}, {0xC000, -2}, {0x3555, 0.333251953125}, {0x0000, 0}, {0x8000, float32(math.Copysign(0, -1))},
		{0x0001, 5.9604644775390625e-08}, {0x7BFF, 65504}, {0x2E66, 0.0999755859375}, {0xB266, -0.199951171875}},
	"BF16": {{0x3F80, 1}, {0xC000, -2}, {0x4049, 3.140625}, {0x0000, 0}, {0x8000, float32(math.Copysign(0, -1))},
		{0x0001, 9.183549615799121e-41}, {0x7F7F, 3.3895313892515355e+38}, {0x3DCD, 0.10009765625}, {0xBE4D, -0.2001953125}},
}

// writeHalfCheckpoint writes a safetensors file by hand (header and raw
// little-endian 16-bit words) whose every parameter cycles through
// halfPatterns[dtype], plus the tied decoder alias and position_ids that
// transformers saves; it returns the float32 values each must load as.
func writeHalfCheckpoint(t *testing.T, path, dtype string, specs []ParamSpec, cfg Config) map[string][]float32 {
	t.Helper()
	pats := halfPatterns[dtype]
	want := map[string][]float32{}
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	add := func(name, dt string, shape []int, raw []byte) {
		header[name] = map[string]any{"dtype": dt, "shape": shape, "data_offsets": []int{len(data), len(data) + len(raw)}}
		data = append(data, raw...)
	}
	for k, ps := range specs {
		n := NumElements(ps.Shape)
		raw := make([]byte, 2*n)
		w := make([]float32, n)
		for i := range w {
			p := pats[(i+k)%len(pats)]
			binary.LittleEndian.PutUint16(raw[2*i:], p.bits)
			w[i] = p.val
		}
		want[ps.Name] = w
		add(ps.Name, dtype, ps.Shape, raw)
	}
	dec := make([]byte, 2*cfg.VocabSize*cfg.HiddenSize)
	add(MLMDecoderWeight, dtype, []int{cfg.VocabSize, cfg.HiddenSize}, dec)
	pos := make([]byte, 8*cfg.MaxPositions)
	for i := 0; i < cfg.MaxPositions; i++ {
		binary.LittleEndian.PutUint64(pos[8*i:], uint64(i))
	}
	add(PositionIDs, "I64", []int{1, cfg.MaxPositions}, pos)
	hj, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	var file []byte
	file = binary.LittleEndian.AppendUint64(file, uint64(len(hj)))
	file = append(append(file, hj...), data...)
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	return want
}

func TestBareFNetModelNames(t *testing.T) {
	cfg := tinyConfig()
	params := InitParams(cfg, Heads{Pooler: true}, 2)
	var entries []safetensors.Entry
	for _, ps := range ParamSpecs(cfg, Heads{Pooler: true}) {
		entries = append(entries, safetensors.Entry{Name: strings.TrimPrefix(ps.Name, "fnet."), Shape: ps.Shape, F32: params[ps.Name]})
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := safetensors.WriteFile(path, entries, map[string]string{"config": cfg.JSON()}); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Heads.Pooler || m.Heads.MLM || m.Params[WordEmbName][0] != params[WordEmbName][0] {
		t.Errorf("bare FNetModel names not mapped: heads %+v", m.Heads)
	}
}

// TestLoadRefusesNonFiniteWeights: a checkpoint holding NaN or Inf (a
// diverged run saved by an older version, or a damaged file) is refused,
// naming the file and the first bad value, instead of predicting "(NaN)".
func TestLoadRefusesNonFiniteWeights(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		cfg := tinyConfig()
		params := InitParams(cfg, MaskedLMHeads, 3)
		params[LayerParam(1, FFOutW)][7] = bad
		path := filepath.Join(t.TempDir(), ModelFile)
		if err := SaveModel(path, cfg, MaskedLMHeads, params); err != nil {
			t.Fatal(err)
		}
		_, err := LoadModel(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "non-finite") || !strings.Contains(err.Error(), LayerParam(1, FFOutW)+"[7]") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
