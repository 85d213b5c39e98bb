// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header mapping tensor names to dtype, shape and byte
// offsets (plus an optional "__metadata__" string map), then the raw
// little-endian data.
//
// Reading converts F32, F16, BF16 and F64 tensors to float32 and I64/I32 to
// int; writing emits F32 (and I64 for integer tensors). Every structural
// problem is an error naming the file and the tensor.
package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// maxHeaderLen bounds the JSON header so a corrupt length cannot make us
// allocate gigabytes (the reference implementation uses 100 MB).
const maxHeaderLen = 100 << 20

// Tensor is one decoded tensor. Exactly one of F32 and Int is set.
type Tensor struct {
	DType string // dtype as stored in the file: F32, F16, BF16, F64, I64, I32
	Shape []int
	F32   []float32
	Int   []int
	F64   []float64 // also set for F64 tensors, so high-precision references keep their precision
}

// NumElements is the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a decoded safetensors file.
type File struct {
	Path     string
	Metadata map[string]string
	Tensors  map[string]*Tensor
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

var dtypeSize = map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4}

// ReadFile reads and decodes a whole safetensors file.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	file, err := Read(bufio.NewReaderSize(f, 1<<20), st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file.Path = path
	return file, nil
}

// Read decodes a safetensors stream of the given total size.
func Read(r io.Reader, size int64) (*File, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("not a safetensors file: too short for the header length (%d bytes)", size)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxHeaderLen || int64(hlen) > size-8 {
		return nil, fmt.Errorf("not a safetensors file or truncated: header length %d does not fit in %d bytes", hlen, size)
	}
	hbuf := make([]byte, hlen)
	if _, err := io.ReadFull(r, hbuf); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hbuf, &raw); err != nil {
		return nil, fmt.Errorf("corrupt header JSON: %w", err)
	}
	file := &File{Metadata: map[string]string{}, Tensors: map[string]*Tensor{}}
	type span struct {
		name string
		e    headerEntry
	}
	var spans []span
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &file.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q (want F32, F16, BF16, F64, I64 or I32)", name, e.DType)
		}
		n, err := byteCount(e.Shape, es)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		n /= es
		if e.DataOffsets[1] < e.DataOffsets[0] || e.DataOffsets[1]-e.DataOffsets[0] != n*es {
			return nil, fmt.Errorf("tensor %q: data_offsets %v hold %d bytes, but %s%v needs %d", name, e.DataOffsets, e.DataOffsets[1]-e.DataOffsets[0], e.DType, e.Shape, n*es)
		}
		spans = append(spans, span{name, e})
	}
	// by start, then end: an empty tensor sharing its start with a
	// non-empty one comes first and is not taken for an overlap
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i].e.DataOffsets, spans[j].e.DataOffsets
		return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1])
	})
	dataLen := size - 8 - int64(hlen)
	pos := 0
	for _, s := range spans {
		if s.e.DataOffsets[0] != pos {
			if s.e.DataOffsets[0] < pos {
				return nil, fmt.Errorf("tensor %q overlaps the previous tensor's data", s.name)
			}
			// a gap: skip it (the format forbids holes, but be lenient in reading)
			if _, err := io.CopyN(io.Discard, r, int64(s.e.DataOffsets[0]-pos)); err != nil {
				return nil, fmt.Errorf("tensor %q: truncated data", s.name)
			}
			pos = s.e.DataOffsets[0]
		}
		if int64(s.e.DataOffsets[1]) > dataLen {
			return nil, fmt.Errorf("truncated: tensor %q ends at byte %d of the data section, which has %d", s.name, s.e.DataOffsets[1], dataLen)
		}
		buf := make([]byte, s.e.DataOffsets[1]-s.e.DataOffsets[0])
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("tensor %q: truncated data: %w", s.name, err)
		}
		pos = s.e.DataOffsets[1]
		t, err := decode(s.e, buf)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", s.name, err)
		}
		file.Tensors[s.name] = t
	}
	return file, nil
}

// byteCount is the size in bytes of a shape's elements of es bytes each,
// refusing negative dimensions and shapes whose element or byte count
// overflows an int (a zero dimension makes any shape empty).
func byteCount(shape []int, es int) (int, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
	}
	if slices.Contains(shape, 0) {
		return 0, nil
	}
	n := es
	for _, d := range shape {
		if n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v overflows: its element count times %d bytes does not fit in an int", shape, es)
		}
		n *= d
	}
	return n, nil
}

func decode(e headerEntry, b []byte) (*Tensor, error) {
	t := &Tensor{DType: e.DType, Shape: append([]int{}, e.Shape...)}
	switch e.DType {
	case "F32":
		t.F32 = make([]float32, len(b)/4)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "F64":
		t.F64 = make([]float64, len(b)/8)
		t.F32 = make([]float32, len(b)/8)
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			t.F32[i] = float32(t.F64[i])
		}
	case "F16":
		t.F32 = make([]float32, len(b)/2)
		for i := range t.F32 {
			t.F32[i] = HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case "BF16":
		t.F32 = make([]float32, len(b)/2)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "I64":
		t.Int = make([]int, len(b)/8)
		for i := range t.Int {
			t.Int[i] = int(int64(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case "I32":
		t.Int = make([]int, len(b)/4)
		for i := range t.Int {
			t.Int[i] = int(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	default:
		return nil, fmt.Errorf("unsupported dtype %q", e.DType)
	}
	return t, nil
}

// HalfToFloat32 converts an IEEE 754 binary16 value.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// Float32ToHalf converts to binary16 with round-to-nearest-even (used by tests
// and by tools that write F16).
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff == 0:
		return sign
	case int32(b>>23&0xff) == 0xff:
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint16(mant >> shift)
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | half
	}
	half := sign | uint16(exp)<<10 | uint16(mant>>13)
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++
	}
	return half
}

// Float32ToBF16 rounds to bfloat16 (nearest even).
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// Entry is a tensor to write: float data is stored as F32, integer data as I64.
type Entry struct {
	Name  string
	Shape []int
	F32   []float32
	Int   []int
}

// WriteFile writes tensors (sorted by name) with metadata, atomically: the
// file is written to a temporary name, synced and renamed over path.
func WriteFile(path string, entries []Entry, metadata map[string]string) error {
	sorted := append([]Entry{}, entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	off := 0
	seen := map[string]bool{}
	for _, e := range sorted {
		if seen[e.Name] {
			return fmt.Errorf("safetensors: duplicate tensor %q", e.Name)
		}
		seen[e.Name] = true
		n := 1
		for _, d := range e.Shape {
			n *= d
		}
		dtype, size, have := "F32", 4, len(e.F32)
		if e.F32 == nil {
			dtype, size, have = "I64", 8, len(e.Int)
		}
		if have != n {
			return fmt.Errorf("safetensors: tensor %q has %d values for shape %v", e.Name, have, e.Shape)
		}
		shape := e.Shape
		if shape == nil {
			shape = []int{}
		}
		header[e.Name] = headerEntry{DType: dtype, Shape: shape, DataOffsets: [2]int{off, off + n*size}}
		off += n * size
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(h)))
	w.Write(lb[:])
	w.Write(h)
	var buf [8]byte
	for _, e := range sorted {
		if e.F32 != nil {
			for _, v := range e.F32 {
				binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(v))
				w.Write(buf[:4])
			}
		} else {
			for _, v := range e.Int {
				binary.LittleEndian.PutUint64(buf[:], uint64(int64(v)))
				w.Write(buf[:])
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	ok = true
	return nil
}

// ErrNotFound is wrapped by Get for a missing tensor.
var ErrNotFound = errors.New("tensor not found")

// Get returns the named tensor or an error naming the file and tensor.
func (f *File) Get(name string) (*Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w: %q", f.Path, ErrNotFound, name)
	}
	return t, nil
}

// Float64 returns element i at the highest precision the file stored.
func (t *Tensor) Float64(i int) float64 {
	if t.F64 != nil {
		return t.F64[i]
	}
	if t.F32 != nil {
		return float64(t.F32[i])
	}
	return float64(t.Int[i])
}
