package rundir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// DefaultTailChunk bounds how much one Poll reads, so the first poll of a
// 100k-line metrics file is spread over a few polls instead of one long stall.
const DefaultTailChunk = 4 << 20

// Tailer reads an append-only line file incrementally: each Poll returns
// only the complete lines written since the previous one, never re-reading
// the file. A half-written last line is kept back until its newline arrives.
// Truncation (size below the offset) and rotation (a new file at the path)
// restart reading from the beginning and are reported as Reset.
//
// A Tailer is not safe for concurrent use.
type Tailer struct {
	Path  string
	Chunk int // bytes per Poll at most; DefaultTailChunk when 0

	off     int64 // bytes consumed from the current file, partial line included
	partial []byte
	file    os.FileInfo // identity of the file being read
	head    []byte      // first bytes of the file, to notice it was rewritten in place
	lineNo  int         // complete lines returned since the last reset
	buf     []byte
}

// NewTailer returns a Tailer for path starting at the beginning of the file.
func NewTailer(path string) *Tailer { return &Tailer{Path: path} }

// TailResult is what one Poll found.
type TailResult struct {
	// Lines are the new complete lines without their trailing newline.
	// They alias an internal buffer and stay valid until the next Poll.
	Lines [][]byte
	// FirstLine is the 1-based line number of Lines[0] in the file.
	FirstLine int
	// Reset is true when the file was truncated or replaced since the last
	// Poll: the reader should drop what it built from the old contents.
	Reset bool
	// More is true when the poll stopped at the chunk limit with data left.
	More bool
}

// Offset is the number of bytes consumed so far, pending partial line included.
func (t *Tailer) Offset() int64 { return t.off }

// Poll reads what was appended since the last call. A missing file is not
// an error: it yields no lines (the run may not have written it yet).
func (t *Tailer) Poll() (TailResult, error) {
	var res TailResult
	f, err := os.Open(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if t.file != nil { // the file went away: start over when it returns
			t.reset()
			res.Reset = true
		}
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, err
	}
	if t.file != nil && (!os.SameFile(t.file, fi) || fi.Size() < t.off || !t.sameHead(f)) {
		t.reset()
		res.Reset = true
	}
	t.file = fi
	size := fi.Size()
	if size == t.off {
		res.FirstLine = t.lineNo + 1
		return res, nil
	}
	chunk := t.Chunk
	if chunk <= 0 {
		chunk = DefaultTailChunk
	}
	want := size - t.off
	if want > int64(chunk) {
		want = int64(chunk)
		res.More = true
	}
	// The pending partial line goes first so lines come out whole.
	need := len(t.partial) + int(want)
	if cap(t.buf) < need {
		t.buf = make([]byte, 0, need)
	}
	buf := append(t.buf[:0], t.partial...)
	buf = buf[:need]
	n, err := f.ReadAt(buf[len(t.partial):], t.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("read %s: %w", t.Path, err)
	}
	buf = buf[:len(t.partial)+n]
	if t.off == 0 {
		t.head = append(t.head[:0], buf[len(t.partial):min(n, headLen)]...)
	}
	t.off += int64(n)
	t.buf = buf

	last := bytes.LastIndexByte(buf, '\n')
	if last < 0 {
		t.partial = append(t.partial[:0], buf...)
		res.FirstLine = t.lineNo + 1
		return res, nil
	}
	res.FirstLine = t.lineNo + 1
	for _, line := range bytes.Split(buf[:last], []byte{'\n'}) {
		res.Lines = append(res.Lines, bytes.TrimSuffix(line, []byte{'\r'}))
	}
	t.lineNo += len(res.Lines)
	// Copy the tail out: buf is reused by the next Poll.
	t.partial = append(make([]byte, 0, len(buf)-last-1), buf[last+1:]...)
	return res, nil
}

// headLen is how many leading bytes identify a file's contents: enough to
// hold the first line's timestamp, so a file truncated and rewritten to
// beyond the old offset between two polls is still noticed.
const headLen = 64

// sameHead reports whether the file still starts with the bytes read first.
func (t *Tailer) sameHead(f *os.File) bool {
	if len(t.head) == 0 {
		return true
	}
	b := make([]byte, len(t.head))
	n, _ := f.ReadAt(b, 0)
	return bytes.Equal(b[:n], t.head)
}

func (t *Tailer) reset() {
	t.off = 0
	t.partial = t.partial[:0]
	t.head = t.head[:0]
	t.file = nil
	t.lineNo = 0
}

// SeekEnd skips what the file holds now, so the next Poll returns only
// lines written from here on (used for logs, whose start is not wanted).
// A half line at the end is skipped too. A missing file is not an error.
func (t *Tailer) SeekEnd() error {
	f, err := os.Open(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	t.reset()
	t.file = fi
	t.off = fi.Size()
	head := make([]byte, min(fi.Size(), headLen))
	n, _ := f.ReadAt(head, 0)
	t.head = append(t.head[:0], head[:n]...)
	return nil
}
