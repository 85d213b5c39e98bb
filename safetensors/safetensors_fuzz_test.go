package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzFile builds the bytes of a safetensors file from a header (any JSON
// value) and a data section.
func fuzzFile(header any, data []byte) []byte {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	var out []byte
	out = binary.LittleEndian.AppendUint64(out, uint64(len(h)))
	out = append(out, h...)
	return append(out, data...)
}

// elements is the exact product of a shape, and false when it overflows an
// int (a zero dimension makes the product 0 whatever the others are).
func elements(shape []int) (int, bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	return int(n), true
}

// FuzzRead: whatever the bytes, Read either fails or returns tensors whose
// values match their shapes (the exact product of the dimensions, no
// overflow) and their dtype (F32 for the float dtypes, F64 too for F64, Int
// for the integer ones), and writing them out with WriteFile reads back the
// same names, shapes, metadata and values bit for bit.
func FuzzRead(f *testing.F) {
	f.Add(fuzzFile(map[string]any{
		"__metadata__": map[string]string{"format": "pt"},
		"w":            map[string]any{"dtype": "F32", "shape": []int{2, 2}, "data_offsets": []int{0, 16}},
		"ids":          map[string]any{"dtype": "I64", "shape": []int{1}, "data_offsets": []int{16, 24}},
	}, make([]byte, 24)))
	f.Add(fuzzFile(map[string]any{
		"h": map[string]any{"dtype": "F16", "shape": []int{3}, "data_offsets": []int{0, 6}},
		"b": map[string]any{"dtype": "BF16", "shape": []int{1, 1}, "data_offsets": []int{6, 8}},
		"d": map[string]any{"dtype": "F64", "shape": []int{}, "data_offsets": []int{8, 16}},
		"i": map[string]any{"dtype": "I32", "shape": []int{2}, "data_offsets": []int{16, 24}},
	}, []byte{0, 0x3c, 0xff, 0x7b, 1, 0x80, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}))
	f.Add(fuzzFile(map[string]any{
		"empty": map[string]any{"dtype": "F32", "shape": []int{0, 7}, "data_offsets": []int{0, 0}},
		"gap":   map[string]any{"dtype": "F32", "shape": nil, "data_offsets": []int{4, 8}},
	}, make([]byte, 8)))
	// shapes whose element count overflows an int, with offsets matching
	// the wrapped byte count
	f.Add(fuzzFile(map[string]any{
		"x": map[string]any{"dtype": "F32", "shape": []int{1 << 32, 1 << 32}, "data_offsets": []int{0, 0}},
	}, nil))
	f.Add(fuzzFile(map[string]any{
		"x": map[string]any{"dtype": "F32", "shape": []int{1 << 62}, "data_offsets": []int{0, 0}},
	}, nil))
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if file != nil {
				t.Fatalf("error %v with a file", err)
			}
			return
		}
		checkReadBack(t, file)
	})
}

// FuzzReadShape: FuzzRead's property over headers of one tensor built from
// fuzzed dimensions and offsets (the fuzzer mutates the integers directly,
// which it cannot do inside JSON text), the data section as long as the
// offsets ask (at most 4 KiB).
func FuzzReadShape(f *testing.F) {
	f.Add("F32", int64(2), int64(3), int64(4), int64(0), int64(96))
	f.Add("I64", int64(1), int64(0), int64(-1), int64(0), int64(8))
	f.Add("BF16", int64(7), int64(1), int64(1), int64(2), int64(16))
	// one step from an element count that wraps to 0 (the fuzzer moves
	// integers by small amounts, so it starts near the edge)
	f.Add("F32", int64(1<<32-1), int64(1<<32), int64(1), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, dtype string, d0, d1, d2, start, end int64) {
		var shape []int
		for _, d := range []int64{d0, d1, d2} {
			if d != -1 { // -1 leaves the dimension out
				shape = append(shape, int(d))
			}
		}
		data := fuzzFile(map[string]any{
			"t": map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int64{start, end}},
		}, make([]byte, max(0, min(end, 4096))))
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if file != nil {
				t.Fatalf("error %v with a file", err)
			}
			return
		}
		checkReadBack(t, file)
	})
}

// checkReadBack is FuzzRead's property for a file Read accepted.
func checkReadBack(t *testing.T, file *File) {
	t.Helper()
	var entries []Entry
	for name, tn := range file.Tensors {
		n, ok := elements(tn.Shape)
		if !ok {
			t.Fatalf("tensor %q: shape %v overflows, yet Read accepted it", name, tn.Shape)
		}
		if tn.NumElements() != n {
			t.Fatalf("tensor %q: NumElements %d, shape %v has %d", name, tn.NumElements(), tn.Shape, n)
		}
		switch tn.DType {
		case "F32", "F16", "BF16", "F64":
			if len(tn.F32) != n || tn.Int != nil || (tn.DType == "F64") != (tn.F64 != nil) || (tn.F64 != nil && len(tn.F64) != n) {
				t.Fatalf("tensor %q %s%v: %d F32, %d F64 values, Int %v", name, tn.DType, tn.Shape, len(tn.F32), len(tn.F64), tn.Int != nil)
			}
			entries = append(entries, Entry{Name: name, Shape: tn.Shape, F32: tn.F32})
		case "I64", "I32":
			if len(tn.Int) != n || tn.F32 != nil || tn.F64 != nil {
				t.Fatalf("tensor %q %s%v: %d Int values, F32 %v", name, tn.DType, tn.Shape, len(tn.Int), tn.F32 != nil)
			}
			entries = append(entries, Entry{Name: name, Shape: tn.Shape, Int: tn.Int})
		default:
			t.Fatalf("tensor %q: dtype %q", name, tn.DType)
		}
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(path, entries, file.Metadata); err != nil {
		t.Fatalf("WriteFile of what Read returned: %v", err)
	}
	again, err := ReadFile(path)
	if err != nil {
		t.Fatalf("re-read: %v", err)
	}
	if len(file.Metadata) > 0 || len(again.Metadata) > 0 {
		if !reflect.DeepEqual(again.Metadata, file.Metadata) {
			t.Fatalf("metadata %q, re-read %q", file.Metadata, again.Metadata)
		}
	}
	if !reflect.DeepEqual(again.Names(), file.Names()) {
		t.Fatalf("names %q, re-read %q", file.Names(), again.Names())
	}
	for name, tn := range file.Tensors {
		got := again.Tensors[name]
		if !reflect.DeepEqual(got.Shape, tn.Shape) {
			t.Fatalf("tensor %q: shape %v, re-read %v", name, tn.Shape, got.Shape)
		}
		if tn.F32 != nil {
			if got.DType != "F32" || len(got.F32) != len(tn.F32) {
				t.Fatalf("tensor %q: re-read as %s with %d values", name, got.DType, len(got.F32))
			}
			for i := range tn.F32 {
				if math.Float32bits(got.F32[i]) != math.Float32bits(tn.F32[i]) {
					t.Fatalf("tensor %q[%d]: %v, re-read %v", name, i, tn.F32[i], got.F32[i])
				}
			}
		} else if got.DType != "I64" || !reflect.DeepEqual(got.Int, tn.Int) {
			t.Fatalf("tensor %q: %v, re-read %s %v", name, tn.Int, got.DType, got.Int)
		}
	}
}

// TestReadRefusesOverflowingShapes: a shape whose element count (or byte
// count) overflows is refused, naming the tensor, even when data_offsets
// match the wrapped-around byte count.
func TestReadRefusesOverflowingShapes(t *testing.T) {
	for _, tc := range []struct {
		dtype string
		shape []int
	}{
		{"F32", []int{1 << 32, 1 << 32}},        // elements wrap to 0
		{"F32", []int{1 << 62}},                 // bytes wrap to 0
		{"I64", []int{1 << 61}},                 // bytes wrap to 0
		{"F16", []int{3, 1 << 63 / 3 * 2}},      // elements wrap
		{"BF16", []int{1 << 31, 1 << 31, 4}},    // elements wrap to 0
		{"F64", []int{2, 1 << 30, 1 << 30, 16}}, // elements wrap to 0
	} {
		var n, es int = 1, dtypeSize[tc.dtype]
		for _, d := range tc.shape {
			n *= d
		}
		data := fuzzFile(map[string]any{
			"ok":  map[string]any{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{0, 4}},
			"big": map[string]any{"dtype": tc.dtype, "shape": tc.shape, "data_offsets": []int{4, 4 + n*es}},
		}, make([]byte, 4))
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err == nil {
			t.Errorf("%s%v: accepted (%d tensors)", tc.dtype, tc.shape, len(file.Tensors))
			continue
		}
		if !strings.Contains(err.Error(), `"big"`) || !strings.Contains(err.Error(), "overflow") {
			t.Errorf("%s%v: error %q does not name the tensor and the overflow", tc.dtype, tc.shape, err)
		}
	}
	// a zero dimension makes any shape empty: no overflow
	data := fuzzFile(map[string]any{
		"empty": map[string]any{"dtype": "F32", "shape": []int{1 << 62, 1 << 62, 0}, "data_offsets": []int{0, 0}},
	}, nil)
	file, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if e := file.Tensors["empty"]; e.NumElements() != 0 || len(e.F32) != 0 {
		t.Fatalf("empty tensor %+v", e)
	}
}

// TestEmptyTensorSharingAnOffset: WriteFile gives an empty tensor the
// offset of the next one (names sorted); Read must not call it an overlap,
// whichever order the header lists them in.
func TestEmptyTensorSharingAnOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	entries := []Entry{
		{Name: "a.empty", Shape: []int{0, 3}, F32: []float32{}},
		{Name: "b.weight", Shape: []int{2}, F32: []float32{1, 2}},
		{Name: "c.empty", Shape: []int{0}, Int: []int{}},
	}
	if err := WriteFile(path, entries, nil); err != nil {
		t.Fatal(err)
	}
	for range 20 { // the header's map order varies between reads
		f, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) != 3 || f.Tensors["b.weight"].F32[1] != 2 || f.Tensors["a.empty"].NumElements() != 0 {
			t.Fatalf("read %+v", f.Tensors)
		}
	}
}
