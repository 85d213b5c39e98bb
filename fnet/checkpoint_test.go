package fnet

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
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
	// half-precision weights load too (rounded)
	f, _ := safetensors.ReadFile(path)
	if f.Tensors[WordEmbName].F32[5] != params[WordEmbName][5] {
		t.Error("F32 value changed")
	}
	h := safetensors.HalfToFloat32(safetensors.Float32ToHalf(params[WordEmbName][5]))
	if math.Abs(float64(h-params[WordEmbName][5])) > 1e-3 {
		t.Error("fp16 conversion off")
	}
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
