package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	entries := []Entry{
		{Name: "b.weight", Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, 0, 1e-7, -1e30}},
		{Name: "a.ids", Shape: []int{3}, Int: []int{-1, 0, 1 << 40}},
		{Name: "scalar", Shape: []int{}, F32: []float32{42}},
	}
	meta := map[string]string{"config": `{"hidden_size":3}`}
	if err := WriteFile(path, entries, meta); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["config"] != meta["config"] {
		t.Fatalf("metadata = %v", f.Metadata)
	}
	w, _ := f.Get("b.weight")
	if w.DType != "F32" || len(w.Shape) != 2 || w.Shape[0] != 2 || w.Shape[1] != 3 {
		t.Fatalf("b.weight header = %+v", w)
	}
	for i, v := range entries[0].F32 {
		if w.F32[i] != v {
			t.Fatalf("b.weight[%d] = %v, want %v", i, w.F32[i], v)
		}
	}
	ids, _ := f.Get("a.ids")
	if ids.DType != "I64" || ids.Int[2] != 1<<40 || ids.Int[0] != -1 {
		t.Fatalf("a.ids = %+v", ids)
	}
	s, _ := f.Get("scalar")
	if len(s.Shape) != 0 || s.NumElements() != 1 || s.F32[0] != 42 {
		t.Fatalf("scalar = %+v", s)
	}
	if _, err := f.Get("missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Get(missing) err = %v", err)
	}
	// no temp files left behind
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("dir holds %d entries, want only the file", len(ents))
	}
}

// rawFile builds a safetensors file by hand so dtypes we never write can be read.
func rawFile(t *testing.T, header map[string]any, data []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(h)))
	path := filepath.Join(t.TempDir(), "raw.safetensors")
	if err := os.WriteFile(path, append(append(lb[:], h...), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadsHalfBFloatAndDouble(t *testing.T) {
	vals := []float32{1, -2.5, 0.333251953125, 65504, 6.103515625e-05, 5.960464477539063e-08, 0}
	var f16, bf16, f64 []byte
	for _, v := range vals {
		f16 = binary.LittleEndian.AppendUint16(f16, Float32ToHalf(v))
		bf16 = binary.LittleEndian.AppendUint16(bf16, Float32ToBF16(v))
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(float64(v)))
	}
	n := len(vals)
	data := append(append(append([]byte{}, f16...), bf16...), f64...)
	path := rawFile(t, map[string]any{
		"h": map[string]any{"dtype": "F16", "shape": []int{n}, "data_offsets": []int{0, 2 * n}},
		"b": map[string]any{"dtype": "BF16", "shape": []int{n}, "data_offsets": []int{2 * n, 4 * n}},
		"d": map[string]any{"dtype": "F64", "shape": []int{n}, "data_offsets": []int{4 * n, 12 * n}},
	}, data)
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := f.Tensors["h"].F32[i]; got != v { // every value is exactly representable in fp16
			t.Errorf("F16[%d] = %v, want %v", i, got, v)
		}
		if got := f.Tensors["d"].F64[i]; got != float64(v) {
			t.Errorf("F64[%d] = %v, want %v", i, got, v)
		}
		if got := f.Tensors["b"].F32[i]; math.Abs(float64(got-v)) > math.Abs(float64(v))/128 {
			t.Errorf("BF16[%d] = %v, want %v within bf16 precision", i, got, v)
		}
	}
}

func TestHalfConversionExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if Float32ToHalf(f)&0x7c00 != 0x7c00 || Float32ToHalf(f)&0x3ff == 0 {
				t.Fatalf("NaN %04x did not stay NaN", h)
			}
			continue
		}
		if back := Float32ToHalf(f); back != uint16(h) {
			t.Fatalf("half %04x -> %v -> %04x", h, f, back)
		}
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := WriteFile(good, []Entry{{Name: "w", Shape: []int{4, 4}, F32: make([]float32, 16)}}, nil); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(good)
	hlen := int(binary.LittleEndian.Uint64(full))
	cases := map[string][]byte{
		"empty":           {},
		"short":           full[:5],
		"header too long": append(binary.LittleEndian.AppendUint64(nil, 1<<40), full[8:]...),
		"truncated data":  full[:len(full)-3],
		"corrupt json":    append(append(append([]byte{}, full[:8]...), []byte(strings.Repeat("{", hlen))...), full[8+hlen:]...),
	}
	for name, data := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".safetensors")
		os.WriteFile(p, data, 0o644)
		_, err := ReadFile(p)
		if err == nil {
			t.Errorf("%s: read succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	// offsets that disagree with the shape
	p := rawFile(t, map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{3}, "data_offsets": []int{0, 8}}}, make([]byte, 8))
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("misshaped offsets: err = %v", err)
	}
	p = rawFile(t, map[string]any{"w": map[string]any{"dtype": "U8", "shape": []int{1}, "data_offsets": []int{0, 1}}}, make([]byte, 8))
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), "U8") {
		t.Errorf("unknown dtype: err = %v", err)
	}
}

func TestWriteRejectsBadEntries(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(p, []Entry{{Name: "w", Shape: []int{2}, F32: []float32{1}}}, nil); err == nil {
		t.Error("short data accepted")
	}
	if err := WriteFile(p, []Entry{{Name: "w", Shape: []int{1}, F32: []float32{1}}, {Name: "w", Shape: []int{1}, F32: []float32{1}}}, nil); err == nil {
		t.Error("duplicate accepted")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("a failed write left a file behind")
	}
}

func TestReadsReferenceFixture(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "ref", "fixtures", "tiny.expect.safetensors")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("reference fixtures not found at %s (they live in ../shared beside the checkout)", path)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Metadata["config"]; !ok {
		t.Error("no config metadata")
	}
	loss, err := f.Get("loss")
	if err != nil || loss.DType != "F64" || len(loss.F64) != 1 || !(loss.F64[0] > 0) {
		t.Errorf("loss = %+v, %v", loss, err)
	}
	ids, err := f.Get("input.input_ids")
	if err != nil || ids.DType != "I64" || len(ids.Shape) != 2 {
		t.Errorf("input_ids = %+v, %v", ids, err)
	}
}
