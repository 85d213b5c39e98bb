package rundir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MetricsReader follows a run's metrics.jsonl: each Poll parses only the
// lines appended since the previous one (see Tailer).
type MetricsReader struct {
	tail *Tailer
	// BadLines counts lines that were not valid metrics JSON; LastError
	// names the file and line of the latest one.
	BadLines  int
	LastError error
}

// NewMetricsReader follows dir/metrics.jsonl from its first line.
func NewMetricsReader(dir string) *MetricsReader {
	return &MetricsReader{tail: NewTailer(filepath.Join(dir, MetricsFile))}
}

// MetricsPoll is what one MetricsReader.Poll found.
type MetricsPoll struct {
	Metrics []Metric
	Reset   bool // the file was truncated or replaced: drop earlier metrics
	More    bool // more data is waiting: poll again soon
}

// Poll parses the complete lines appended since the last call. A malformed
// line is skipped and counted (a reader must not stop on one bad line);
// the error it returns is only for failing to read the file.
func (r *MetricsReader) Poll() (MetricsPoll, error) {
	res, err := r.tail.Poll()
	if err != nil {
		return MetricsPoll{}, err
	}
	out := MetricsPoll{Reset: res.Reset, More: res.More, Metrics: make([]Metric, 0, len(res.Lines))}
	if res.Reset {
		r.BadLines, r.LastError = 0, nil
	}
	for i, line := range res.Lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		m, err := ParseMetricLine(line)
		if err != nil {
			r.BadLines++
			r.LastError = fmt.Errorf("%s:%d: %w", r.tail.Path, res.FirstLine+i, err)
			continue
		}
		out.Metrics = append(out.Metrics, m)
	}
	return out, nil
}

// LastLines returns up to n complete lines from the end of path, reading
// backwards in blocks so the cost does not grow with the file. A trailing
// half-written line is left out. A missing file gives no lines.
func LastLines(path string, n int) ([][]byte, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	end := fi.Size()
	const block = 64 << 10
	var data []byte
	pos := end
	for pos > 0 && bytes.Count(data, []byte{'\n'}) <= n {
		start := max(pos-block, 0)
		chunk := make([]byte, pos-start)
		if _, err := f.ReadAt(chunk, start); err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		data = append(chunk, data...)
		pos = start
	}
	// Keep only complete lines: drop the text after the last newline.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		return nil, nil
	}
	lines := bytes.Split(data, []byte{'\n'})
	if pos > 0 {
		lines = lines[1:] // the first one may be cut at the block boundary
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// LastMetrics parses up to n lines from the end of dir/metrics.jsonl,
// skipping malformed ones; `fnet-tui runs` uses it to show the last loss
// of a long run without reading the whole file.
func LastMetrics(dir string, n int) ([]Metric, error) {
	lines, err := LastLines(filepath.Join(dir, MetricsFile), n)
	if err != nil {
		return nil, err
	}
	out := make([]Metric, 0, len(lines))
	for _, l := range lines {
		l = bytes.TrimSpace(l) // as MetricsReader.Poll, so both read the same metrics
		if len(l) == 0 {
			continue
		}
		if m, err := ParseMetricLine(l); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// StatusWatcher re-reads a run's status.json only when it changed on disk
// (trainers replace it atomically, so a new inode, size or mtime means new
// contents), keeping the last good Status when a read fails.
type StatusWatcher struct {
	Path   string
	last   os.FileInfo
	status Status
	err    error
}

// NewStatusWatcher watches dir/status.json.
func NewStatusWatcher(dir string) *StatusWatcher {
	return &StatusWatcher{Path: filepath.Join(dir, StatusFile)}
}

// Poll returns the current status and whether it changed since the last
// call. err is the latest read or parse error, nil once a read succeeds.
func (w *StatusWatcher) Poll() (s Status, changed bool, err error) {
	fi, statErr := os.Stat(w.Path)
	if statErr != nil {
		if w.last != nil || w.err == nil {
			w.last, w.err = nil, statErr
			return w.status, true, w.err
		}
		return w.status, false, w.err
	}
	if w.last != nil && os.SameFile(w.last, fi) && fi.Size() == w.last.Size() && fi.ModTime().Equal(w.last.ModTime()) {
		return w.status, false, w.err
	}
	b, err := os.ReadFile(w.Path)
	if err != nil {
		w.err = err
		return w.status, false, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		w.err = fmt.Errorf("%s: %w", w.Path, err)
		return w.status, false, w.err
	}
	w.last, w.status, w.err = fi, st, nil
	return st, true, nil
}
