package rundir

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// sameMetric compares two metrics treating NaN values as equal.
func sameMetric(a, b Metric) bool {
	if !a.T.Equal(b.T) || a.Step != b.Step || a.Split != b.Split || a.Task != b.Task || len(a.Values) != len(b.Values) {
		return false
	}
	for k, v := range a.Values {
		w, ok := b.Values[k]
		if !ok || !(v == w || (math.IsNaN(v) && math.IsNaN(w))) {
			return false
		}
	}
	return true
}

// checkLikeJSON asserts the fast parser gives encoding/json's answer.
func checkLikeJSON(t *testing.T, line string) {
	t.Helper()
	var want Metric
	wantErr := json.Unmarshal([]byte(line), &want)
	got, err := ParseMetricLine([]byte(line))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, encoding/json says %v", line, err, wantErr)
	}
	if err == nil && !sameMetric(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", line, got, want)
	}
}

func TestParseMetricLineMatchesEncodingJSON(t *testing.T) {
	lines := []string{
		`{"t":"2025-01-02T03:04:05.123456789Z","step":120,"split":"train","loss":3.2,"mlm_loss":2.9,"lr":1e-4,"tokens_per_s":12000}`,
		`{"t":1735787045.5,"step":3,"split":"eval","task":"sst2","accuracy":0.86}`,
		` { "step" : 1 , "split" : "system" , "gpu_util" : 0.93 } `,
		`{}`,
		`{"loss":null,"step":null}`,
		`{"loss":1,"loss":"x"}`,
		`{"loss":1,"loss":null}`,
		`{"loss":1,"loss":true}`,
		`{"flag":false,"v":-0.0,"w":-1.5E+3}`,
		`{"split":5,"task":null,"x":"str"}`,
		`{"t":null}`,
		`{"t":true}`,
		`{"t":"yesterday"}`,
		`{"step":"12"}`,
		`{"step":true}`,
		`{"nested":{"a":1},"loss":2}`,
		`{"arr":[1,2],"loss":2}`,
		`{"esc\"aped":1}`,
		`{"name":"caf\u00e9","loss":1}`,
		`{"name":"café","loss":1}`,
		`{"big":1e400}`,
		`{"lead":01}`,
		`{"dot":1.}`,
		`{"plus":+1}`,
		`{"exp":1e}`,
		`{"loss":12abc}`,
		`{"loss":truex}`,
		`{"loss":1`,
		`{"loss":1,}`,
		`{"loss" 1}`,
		`[1,2]`,
		`not json`,
		`{"loss":1} trailing`,
	}
	for _, l := range lines {
		checkLikeJSON(t, l)
	}
}

// TestParseMetricLineRandom builds seeded random lines from pieces valid
// and not, and checks each against encoding/json.
func TestParseMetricLineRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	keys := []string{"t", "step", "split", "task", "loss", "lr", "a b", ""}
	vals := []string{"1", "-2.5e-3", "0", "null", "true", "false", `"train"`, `"2025-01-02T03:04:05Z"`, "{}", "[]", "1e999", "00", `"x\ny"`, "7"}
	for range 20000 {
		var sb strings.Builder
		sb.WriteString("{")
		n := rng.Intn(6)
		for i := range n {
			if i > 0 {
				sb.WriteString([]string{",", ", ", " ,"}[rng.Intn(3)])
			}
			fmt.Fprintf(&sb, "%q:%s", keys[rng.Intn(len(keys))], vals[rng.Intn(len(vals))])
		}
		sb.WriteString("}")
		line := sb.String()
		if rng.Intn(10) == 0 { // break it
			line = line[:rng.Intn(len(line)+1)]
		}
		checkLikeJSON(t, line)
	}
}

func BenchmarkParseMetricLine(b *testing.B) {
	line := []byte(`{"t":"2025-06-01T00:00:00Z","step":12345,"split":"train","loss":3.2,"mlm_loss":2.9,"nsp_loss":0.3,"mlm_acc":0.41,"nsp_acc":0.8,"lr":1e-4,"grad_norm":1.7,"tokens_per_s":12000,"examples_per_s":94,"step_ms":170,"data_wait":0.02,"elapsed_s":71.2}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseMetricLine(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var m Metric
			if err := json.Unmarshal(line, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
