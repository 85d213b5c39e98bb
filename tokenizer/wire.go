package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A minimal protobuf wire-format reader and writer: enough for SentencePiece's
// ModelProto without generated code or a protobuf dependency.

type wireType uint8

const (
	wireVarint  wireType = 0
	wireFixed64 wireType = 1
	wireBytes   wireType = 2
	wireFixed32 wireType = 5
)

// wireField is one decoded field: num and typ from the tag, and either the
// integer value (varint, fixed32, fixed64) or the payload (bytes).
type wireField struct {
	num  int
	typ  wireType
	u    uint64
	data []byte
}

func (f wireField) float32() float32 { return math.Float32frombits(uint32(f.u)) }

// errTruncated is wrapped by every error about a message cut short, so
// callers can tell a truncated file from other corruption.
var errTruncated = errors.New("truncated")

// readVarint decodes a base-128 varint at b[off:].
func readVarint(b []byte, off int) (uint64, int, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if off >= len(b) {
			return 0, off, fmt.Errorf("varint at byte %d: %w", off, errTruncated)
		}
		c := b[off]
		off++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, off, nil
		}
	}
	return 0, off, fmt.Errorf("varint at byte %d is longer than 10 bytes", off)
}

// walkMessage calls fn for every field of the message in b, in order.
// base is b's offset in the enclosing file so errors point at real bytes.
func walkMessage(b []byte, base int, fn func(f wireField) error) error {
	off := 0
	for off < len(b) {
		start := off
		tag, next, err := readVarint(b, off)
		if err != nil {
			return fmt.Errorf("field tag at byte %d: %w", base+start, err)
		}
		off = next
		f := wireField{num: int(tag >> 3), typ: wireType(tag & 7)}
		if f.num <= 0 || tag>>3 > math.MaxInt32 {
			return fmt.Errorf("invalid field number %d at byte %d", tag>>3, base+start)
		}
		switch f.typ {
		case wireVarint:
			f.u, off, err = readVarint(b, off)
			if err != nil {
				return fmt.Errorf("field %d at byte %d: %w", f.num, base+start, err)
			}
		case wireFixed64:
			if len(b)-off < 8 {
				return fmt.Errorf("field %d at byte %d: fixed64: %w", f.num, base+start, errTruncated)
			}
			f.u = binary.LittleEndian.Uint64(b[off:])
			off += 8
		case wireFixed32:
			if len(b)-off < 4 {
				return fmt.Errorf("field %d at byte %d: fixed32: %w", f.num, base+start, errTruncated)
			}
			f.u = uint64(binary.LittleEndian.Uint32(b[off:]))
			off += 4
		case wireBytes:
			var n uint64
			n, off, err = readVarint(b, off)
			if err != nil {
				return fmt.Errorf("field %d at byte %d: length: %w", f.num, base+start, err)
			}
			if n > uint64(len(b)-off) {
				return fmt.Errorf("field %d at byte %d: %d-byte payload but only %d bytes left: %w",
					f.num, base+start, n, len(b)-off, errTruncated)
			}
			f.data = b[off : off+int(n)]
			f.u = uint64(base + off) // payload offset, for nested error messages
			off += int(n)
		default:
			return fmt.Errorf("field %d at byte %d: unsupported wire type %d", f.num, base+start, f.typ)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// wireWriter appends protobuf fields to a byte slice.
type wireWriter struct{ b []byte }

func (w *wireWriter) tag(num int, t wireType) {
	w.b = binary.AppendUvarint(w.b, uint64(num)<<3|uint64(t))
}

func (w *wireWriter) varint(num int, v uint64) {
	w.tag(num, wireVarint)
	w.b = binary.AppendUvarint(w.b, v)
}

// int32 encodes like protobuf's int32: negative values sign-extend to 10 bytes.
func (w *wireWriter) int32(num int, v int32) { w.varint(num, uint64(int64(v))) }

func (w *wireWriter) bool(num int, v bool) {
	var u uint64
	if v {
		u = 1
	}
	w.varint(num, u)
}

func (w *wireWriter) float32(num int, v float32) {
	w.tag(num, wireFixed32)
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(v))
}

func (w *wireWriter) bytes(num int, p []byte) {
	w.tag(num, wireBytes)
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}

func (w *wireWriter) string(num int, s string) {
	w.tag(num, wireBytes)
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}
