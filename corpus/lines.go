package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// maxLineBytes bounds one line so a binary or corrupt file fails with an
// error instead of exhausting memory. A variable so tests can lower it.
var maxLineBytes = 64 << 20

// lineFile reads a file (gunzipping .gz) line by line, tracking each line's
// byte offset in the decompressed stream and its 1-based number.
type lineFile struct {
	path string
	f    *os.File
	gz   *gzip.Reader
	r    *bufio.Reader
	off  int64 // offset of the next line
	line int   // number of the next line
	buf  []byte
}

// openLines opens path positioned at the line starting at byte offset off
// (line number line). Plain files seek; gzipped ones decompress and discard.
func openLines(path string, gz bool, off int64, line int) (*lineFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	lf := &lineFile{path: path, f: f, off: off, line: max(line, 1)}
	var r io.Reader = f
	if gz {
		if lf.gz, err = gzip.NewReader(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = lf.gz
		if off > 0 {
			n, err := io.CopyN(io.Discard, lf.gz, off)
			if err != nil {
				lf.Close()
				if errors.Is(err, io.EOF) {
					return nil, fmt.Errorf("%s: resume offset %d is past the end (%d bytes decompressed); the file changed", path, off, n)
				}
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
	} else if off > 0 {
		end, err := f.Seek(0, io.SeekEnd)
		if err == nil && off > end {
			err = fmt.Errorf("resume offset %d is past the end (%d bytes); the file changed", off, end)
		}
		if err == nil {
			_, err = f.Seek(off, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	lf.r = bufio.NewReaderSize(r, 256<<10)
	return lf, nil
}

// next returns the next line without its "\n" or "\r\n", with its offset and
// number. The slice is valid until the following call. At the end it returns
// io.EOF; a last line without a final newline is still returned.
func (lf *lineFile) next() (text []byte, off int64, line int, err error) {
	lf.buf = lf.buf[:0]
	for {
		chunk, err := lf.r.ReadSlice('\n')
		lf.buf = append(lf.buf, chunk...)
		if len(lf.buf) > maxLineBytes {
			return nil, 0, 0, fmt.Errorf("%s:%d: line longer than %d bytes", lf.path, lf.line, maxLineBytes)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, 0, 0, fmt.Errorf("%s:%d: %w", lf.path, lf.line, err)
		}
		if err == io.EOF && len(lf.buf) == 0 {
			return nil, 0, 0, io.EOF
		}
		break
	}
	off, line = lf.off, lf.line
	lf.off += int64(len(lf.buf))
	lf.line++
	text = lf.buf
	if n := len(text); n > 0 && text[n-1] == '\n' {
		text = text[:n-1]
	}
	if n := len(text); n > 0 && text[n-1] == '\r' {
		text = text[:n-1]
	}
	// a corpus is UTF-8 text; a binary given by mistake (an executable, an
	// archive) would otherwise train on garbage without a word
	if i := bytes.IndexByte(text, 0); i >= 0 {
		return nil, 0, 0, fmt.Errorf("%s:%d: a NUL byte at column %d: this is not a text file (a corpus is UTF-8 text)", lf.path, line, i+1)
	}
	if !utf8.Valid(text) {
		return nil, 0, 0, fmt.Errorf("%s:%d: not valid UTF-8 (a corpus is UTF-8 text; convert it, e.g. iconv -f latin1 -t utf-8)", lf.path, line)
	}
	return text, off, line, nil
}

func (lf *lineFile) Close() error {
	if lf.gz != nil {
		lf.gz.Close()
	}
	return lf.f.Close()
}
