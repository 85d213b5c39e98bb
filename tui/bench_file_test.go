package tui

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleBench is a bench.json as `fnet-tui bench --arch fnet,bert --seq
// 128,256,512 --out` writes it, where BERT ran out of memory at 512.
const sampleBench = `{"arch":"fnet","seq":128,"batch":16,"device":"cpu","ms_per_step":743.3,"tokens_per_s":2755,"peak_mem_bytes":384827392,"flops_per_token":15204352}
{"arch":"fnet","seq":256,"batch":8,"device":"cpu","ms_per_step":801.2,"tokens_per_s":2556,"peak_mem_bytes":402653184,"flops_per_token":15466496}
{"arch":"fnet","seq":512,"batch":4,"device":"cpu","ms_per_step":912.8,"tokens_per_s":2243,"peak_mem_bytes":436207616,"flops_per_token":15990784}
{"arch":"bert","seq":128,"batch":16,"device":"cpu","ms_per_step":1021.5,"tokens_per_s":2005,"peak_mem_bytes":452984832,"flops_per_token":17825792}
{"arch":"bert","seq":256,"batch":8,"device":"cpu","ms_per_step":1390.9,"tokens_per_s":1472,"peak_mem_bytes":629145600,"flops_per_token":20971520}
{"arch":"bert","seq":512,"batch":4,"device":"cpu","flops_per_token":27262976,"oom":true}
`

// writeBenchJSON writes root/bench.json.
func writeBenchJSON(t testing.TB, root, content string) string {
	t.Helper()
	path := filepath.Join(root, BenchFile)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadBench(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []BenchCell
		wantErr string // the error's text; "" for none
	}{
		{name: "empty file", in: "", want: nil},
		{name: "blank lines only", in: "\n  \n\t\n", want: nil},
		{
			name: "one cell, no trailing newline, CRLF elsewhere",
			in:   "\r\n" + `{"arch":"fnet","seq":128,"batch":16,"device":"cpu","ms_per_step":1.5,"tokens_per_s":2000,"peak_mem_bytes":1048576,"flops_per_token":1e7}`,
			want: []BenchCell{{Arch: "fnet", Seq: 128, Batch: 16, Device: "cpu", MsPerStep: 1.5, TokensPerS: 2000, PeakMemBytes: 1 << 20, FLOPsPerToken: 1e7}},
		},
		{
			name: "OOM and error cells, unknown fields kept out",
			in: `{"arch":"bert","seq":4096,"batch":1,"device":"cuda","flops_per_token":3e7,"oom":true,"future":[1,2]}` + "\n" +
				`{"arch":"linear","seq":64,"batch":2,"device":"cuda","flops_per_token":0,"error":"cuda: linear mixing is not on the CUDA engine"}` + "\n",
			want: []BenchCell{
				{Arch: "bert", Seq: 4096, Batch: 1, Device: "cuda", FLOPsPerToken: 3e7, OOM: true},
				{Arch: "linear", Seq: 64, Batch: 2, Device: "cuda", Error: "cuda: linear mixing is not on the CUDA engine"},
			},
		},
		{
			name:    "not JSON, on the second line",
			in:      `{"arch":"fnet","seq":128}` + "\nfnet at 128: 3.2 ms\n",
			wantErr: "bench.json:2: not a JSON object",
		},
		{
			name:    "a half-written line",
			in:      `{"arch":"fnet","seq":128}` + "\n" + `{"arch":"fnet","se`,
			wantErr: "bench.json:2: unexpected end of JSON input",
		},
		{name: "null", in: "null\n", wantErr: "bench.json:1: not a JSON object"},
		{name: "an array", in: `[{"arch":"fnet","seq":128}]`, wantErr: "bench.json:1: not a JSON object"},
		{name: "two objects on a line", in: `{"arch":"a","seq":8} {"arch":"b","seq":8}`, wantErr: "bench.json:1: invalid character '{' after top-level value"},
		{name: "no arch", in: `{"seq":128}`, wantErr: `bench.json:1: no "arch"`},
		{name: "blank arch", in: `{"arch":"  ","seq":128}`, wantErr: `bench.json:1: no "arch"`},
		{name: "arch with a newline", in: `{"arch":"fn\net","seq":128}`, wantErr: `bench.json:1: arch "fn\net" has control characters`},
		{name: "no seq", in: `{"arch":"fnet"}`, wantErr: `bench.json:1: "seq" 0: want a positive sequence length`},
		{name: "negative seq", in: `{"arch":"fnet","seq":-8}`, wantErr: `bench.json:1: "seq" -8: want a positive sequence length`},
		{name: "fractional seq", in: `{"arch":"fnet","seq":12.5}`, wantErr: "bench.json:1: cannot unmarshal number 12.5 into Go struct field BenchCell.seq of type int"},
		{name: "seq as a string", in: `{"arch":"fnet","seq":"128"}`, wantErr: "bench.json:1: cannot unmarshal string into Go struct field BenchCell.seq of type int"},
		{name: "negative tokens/s", in: `{"arch":"fnet","seq":128,"tokens_per_s":-1}`, wantErr: `bench.json:1: "tokens_per_s" -1 is negative`},
		{name: "negative memory", in: `{"arch":"fnet","seq":128,"peak_mem_bytes":-5}`, wantErr: `bench.json:1: "peak_mem_bytes" -5 is negative`},
		{name: "negative batch", in: `{"arch":"fnet","seq":128,"batch":-1}`, wantErr: `bench.json:1: "batch" -1 is negative`},
		{name: "negative ms", in: `{"arch":"fnet","seq":128,"ms_per_step":-2}`, wantErr: `bench.json:1: "ms_per_step" -2 is negative`},
		{name: "negative flops", in: `{"arch":"fnet","seq":128,"flops_per_token":-3}`, wantErr: `bench.json:1: "flops_per_token" -3 is negative`},
		{
			name:    "every malformed line is counted",
			in:      "x\n" + `{"arch":"fnet","seq":128}` + "\ny\n\nz\n",
			wantErr: "bench.json:1: not a JSON object (and 2 more malformed lines: 3, 5)",
		},
		{
			name:    "one more",
			in:      "x\ny\n",
			wantErr: "bench.json:1: not a JSON object (and line 2)",
		},
		{
			name:    "many more",
			in:      strings.Repeat("x\n", 7),
			wantErr: "bench.json:1: not a JSON object (and 6 more malformed lines: 2, 3, 4, 5, …)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadBench("bench.json", strings.NewReader(tc.in))
			if tc.wantErr != "" {
				var be *BenchError
				if err == nil || err.Error() != tc.wantErr || !errors.As(err, &be) || got != nil {
					t.Fatalf("got %v, %v; want no cells and %q (a *BenchError)", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReadBenchSample(t *testing.T) {
	cells, err := ReadBench("bench.json", strings.NewReader(sampleBench))
	if err != nil || len(cells) != 6 {
		t.Fatalf("%d cells, %v", len(cells), err)
	}
	last := cells[5]
	if !last.OOM || !last.Failed() || last.Point() != (BenchPoint{Arch: "bert", Seq: 512, OOM: true}) {
		t.Errorf("the OOM cell: %+v", last)
	}
	if p := cells[0].Point(); p != (BenchPoint{Arch: "fnet", Seq: 128, TokensPerS: 2755, PeakMemBytes: 384827392}) {
		t.Errorf("point %+v", p)
	}
}

// A reader error is passed on, named by the file.
func TestReadBenchReadError(t *testing.T) {
	_, err := ReadBench("runs/bench.json", iotestErrReader{})
	if err == nil || err.Error() != "runs/bench.json: disk on fire" {
		t.Errorf("got %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestChartOrder(t *testing.T) {
	in := []BenchCell{{Arch: "bert", Seq: 512}, {Arch: "fnet", Seq: 256}, {Arch: "bert", Seq: 128}, {Arch: "fnet", Seq: 128}, {Arch: "bert", Seq: 128, Batch: 2}}
	var got []string
	for _, c := range chartOrder(in) {
		got = append(got, c.Arch+" "+itoa(c.Seq)+" "+itoa(c.Batch))
	}
	want := []string{"bert 128 0", "bert 128 2", "bert 512 0", "fnet 128 0", "fnet 256 0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	if in[0].Seq != 512 {
		t.Error("chartOrder changed its argument")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// FuzzReadBench: whatever the bytes, ReadBench either returns cells that
// all have a positive seq and a non-blank arch, and that read back the
// same once written out again, or no cells and an error naming the file
// and a line that exists.
func FuzzReadBench(f *testing.F) {
	f.Add(sampleBench)
	f.Add("")
	f.Add("\n\n")
	f.Add(`{"arch":"fnet","seq":128}` + "\r\n" + `{"arch":"bert","seq":1,"oom":true}`)
	f.Add(`{"arch":"fnet","seq":0}`)
	f.Add(`{"arch":"\u0000","seq":5}`)
	f.Add(`{"ARCH":"fnet","Seq":64,"ms_per_step":-0,"flops_per_token":-0}`)
	f.Add(`{"arch":"a\xffb","seq":9,"error":"\u2028"}`)
	f.Add(`{"arch":"fnet","seq":9223372036854775807,"peak_mem_bytes":9223372036854775807,"tokens_per_s":1.7976931348623157e308}`)
	f.Add("x\n{}\n[]\nnull\n")
	f.Fuzz(func(t *testing.T, in string) {
		cells, err := ReadBench("bench.json", strings.NewReader(in))
		if err != nil {
			var be *BenchError
			if cells != nil || !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "bench.json:") {
				t.Fatalf("error %v with cells %v", err, cells)
			}
			if lines := strings.Count(in, "\n") + 1; be.Line < 1 || be.Line > lines {
				t.Fatalf("line %d of %d", be.Line, lines)
			}
			return
		}
		var out strings.Builder
		for _, c := range cells {
			if c.Seq <= 0 || strings.TrimSpace(c.Arch) == "" {
				t.Fatalf("invalid cell %+v", c)
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			out.Write(b)
			out.WriteByte('\n')
		}
		again, err := ReadBench("bench.json", strings.NewReader(out.String()))
		if err != nil || len(again) != len(cells) || (len(cells) > 0 && !reflect.DeepEqual(again, cells)) {
			t.Fatalf("re-read of\n%s\ngave %+v, %v; want %+v", out.String(), again, err, cells)
		}
	})
}

// The watcher reports the first poll, then only changes: appearing, every
// rewrite (also one within the same second), going away.
func TestBenchWatcher(t *testing.T) {
	dir := t.TempDir()
	w := benchWatcher{path: filepath.Join(dir, BenchFile)}
	u, changed := w.poll()
	if !changed || u.Exists || u.Err != nil || u.Cells != nil {
		t.Fatalf("first poll without a file: %+v %v", u, changed)
	}
	if _, changed := w.poll(); changed {
		t.Fatal("no file twice: changed")
	}
	path := writeBenchJSON(t, dir, sampleBench)
	if u, changed = w.poll(); !changed || !u.Exists || u.Err != nil || len(u.Cells) != 6 {
		t.Fatalf("after writing: %+v %v", u, changed)
	}
	if _, changed := w.poll(); changed {
		t.Fatal("unchanged file: changed")
	}
	os.WriteFile(path, []byte(sampleBench+"oops\n"), 0o644)
	u, changed = w.poll()
	if be := (*BenchError)(nil); !changed || !errors.As(u.Err, &be) || be.Line != 7 || u.Cells != nil ||
		!strings.HasPrefix(u.Err.Error(), path+":7: ") {
		t.Fatalf("after a bad line: %+v %v", u, changed)
	}
	// Same size, same mtime, other content: a new file (rename) still shows.
	tmp := filepath.Join(dir, "new")
	os.WriteFile(tmp, []byte(strings.Replace(sampleBench+"oops\n", "oops", "{}  ", 1)), 0o644)
	fi, _ := os.Stat(path)
	os.Chtimes(tmp, time.Now(), fi.ModTime())
	os.Rename(tmp, path)
	if u, changed = w.poll(); !changed || u.Err == nil || !strings.Contains(u.Err.Error(), `:7: no "arch"`) {
		t.Fatalf("after a rename: %+v %v", u, changed)
	}
	os.Remove(path)
	if u, changed = w.poll(); !changed || u.Exists || u.Err != nil {
		t.Fatalf("after removing: %+v %v", u, changed)
	}
	os.Mkdir(path, 0o755)
	if u, changed = w.poll(); !changed || !u.Exists || u.Err == nil || !strings.Contains(u.Err.Error(), "is a folder") {
		t.Fatalf("a folder: %+v %v", u, changed)
	}
}
