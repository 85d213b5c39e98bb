package rundir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzMetricsReader: whatever a metrics.jsonl holds, written in two parts
// (a trainer caught mid-line) and read in small chunks, MetricsReader
// returns exactly the metrics of its complete lines (each parsed alone,
// blank lines skipped, a bad line counted in BadLines): a torn last line is
// never returned as a metric. Every metric it returns re-encodes
// (Metric.MarshalJSON) to a line that parses back to the same metric, and
// LastMetrics over the same lines agrees.
func FuzzMetricsReader(f *testing.F) {
	f.Add([]byte(`{"t":"2025-01-02T03:04:05.123456789Z","step":120,"split":"train","loss":3.2,"lr":1e-4}`+"\n"+
		`{"t":1735787045.5,"step":3,"split":"eval","task":"sst2","accuracy":0.86}`+"\n"+`{"t":"2025-01-02T03:04:06Z","st`), uint16(50), uint8(7))
	f.Add([]byte("{\"loss\":null,\"step\":null}\r\n\n  \nnot json\n{\"loss\":1,\"loss\":\"x\"}\n{\"a\":1e400,\"b\":-0.0}\n{}"), uint16(3), uint8(0))
	f.Add([]byte(`{"name":"caf\u00e9","loss":1,"nested":{"a":1}}`+"\n"+`{"t":"2025-01-02T03:04:05+02:00","step":1.9e19}`+"\n"), uint16(1000), uint8(200))
	f.Add([]byte("{\"loss\":2}\n{\"loss\":3}"), uint16(9), uint8(1))
	f.Add([]byte("{\"loss\":2}\v\n\u00a0{\"loss\":3}\n"), uint16(4), uint8(5))
	f.Fuzz(func(t *testing.T, content []byte, cut uint16, chunk uint8) {
		dir := t.TempDir()
		path := filepath.Join(dir, MetricsFile)
		at := int(cut) % (len(content) + 1)
		if err := os.WriteFile(path, content[:at], 0o644); err != nil {
			t.Fatal(err)
		}
		r := NewMetricsReader(dir)
		r.tail.Chunk = int(chunk%64) + 1
		var got []Metric
		poll := func() {
			for range len(content) + 2 {
				res, err := r.Poll()
				if err != nil {
					t.Fatal(err)
				}
				if res.Reset {
					t.Fatal("an appended file was reported as reset")
				}
				got = append(got, res.Metrics...)
				if !res.More {
					return
				}
			}
			t.Fatal("Poll keeps saying More")
		}
		poll()
		af, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := af.Write(content[at:]); err != nil {
			t.Fatal(err)
		}
		af.Close()
		poll()

		// the complete lines, each parsed alone
		lines := bytes.Split(content, []byte{'\n'})
		lines = lines[:len(lines)-1] // the text after the last newline is not a line yet
		var want []Metric
		bad := 0
		for _, l := range lines {
			l = bytes.TrimSpace(bytes.TrimSuffix(l, []byte{'\r'}))
			if len(l) == 0 {
				continue
			}
			m, err := ParseMetricLine(l)
			if err != nil {
				bad++
				continue
			}
			want = append(want, m)
		}
		if len(got) != len(want) || r.BadLines != bad {
			t.Fatalf("read %d metrics and %d bad lines, the complete lines hold %d and %d", len(got), r.BadLines, len(want), bad)
		}
		for i := range want {
			if !sameMetric(got[i], want[i]) {
				t.Fatalf("metric %d: %+v, its line alone gives %+v", i, got[i], want[i])
			}
			b, err := json.Marshal(got[i])
			if err != nil {
				t.Fatalf("metric %d %+v does not encode: %v", i, got[i], err)
			}
			back, err := ParseMetricLine(b)
			if err != nil || !sameMetric(back, got[i]) {
				t.Fatalf("metric %d %+v re-encodes to %s, which reads back as %+v, %v", i, got[i], b, back, err)
			}
		}
		last, err := LastMetrics(dir, len(lines))
		if err != nil {
			t.Fatal(err)
		}
		if len(last) != len(want) {
			t.Fatalf("LastMetrics gives %d metrics, the reader %d", len(last), len(want))
		}
		for i := range want {
			if !sameMetric(last[i], want[i]) {
				t.Fatalf("LastMetrics metric %d: %+v, the reader %+v", i, last[i], want[i])
			}
		}
	})
}

// TestMetricTimeOutsideRFC3339Years: a "t" whose UTC year has no four-digit
// RFC 3339 form (unix seconds past 9999, an offset across year 0 or 9999)
// is refused by both parsers, since MarshalJSON could not write it back.
func TestMetricTimeOutsideRFC3339Years(t *testing.T) {
	for _, line := range []string{`{"t":1e12}`, `{"t":-1e11}`, `{"t":1e300,"loss":1}`,
		`{"t":"9999-12-31T23:30:00-01:00"}`, `{"t":"0000-01-01T00:30:00+01:00"}`} {
		checkLikeJSON(t, line)
		if _, err := ParseMetricLine([]byte(line)); err == nil {
			t.Errorf("%s: accepted", line)
		}
	}
	for _, line := range []string{`{"t":"9999-12-31T23:59:59.999999999Z"}`, `{"t":"0000-01-01T00:00:00Z"}`, `{"t":-62167219200}`, `{"t":253402300799}`} {
		checkLikeJSON(t, line)
		m, err := ParseMetricLine([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		b, _ := json.Marshal(m)
		if back, err := ParseMetricLine(b); err != nil || !back.T.Equal(m.T) {
			t.Errorf("%s re-encodes to %s: %v", line, b, err)
		}
	}
}
