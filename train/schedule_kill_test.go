package train

import (
	"math"
	"testing"
)

// TestScheduleEdges: values worked out by hand where the schedule's cases
// meet, compared NaN-safely (a NaN fails): no warmup at step 0, warmup as
// long as the run, a decay floor above zero, steps past the end.
func TestScheduleEdges(t *testing.T) {
	lin := Schedule{Peak: 1, Min: 0.2, Warmup: 2, Total: 10, Decay: DecayLinear}
	cos := Schedule{Peak: 1, Min: 0.2, Warmup: 2, Total: 10, Decay: DecayCosine}
	cases := []struct {
		name string
		s    Schedule
		step int
		want float64
	}{
		{"warmup 1/2", lin, 1, 0.5},
		{"warmup end", lin, 2, 1},
		{"linear half way, floor 0.2", lin, 6, 0.6},
		{"linear quarter", lin, 4, 0.8},
		{"linear end", lin, 10, 0.2},
		{"linear past the end", lin, 14, 0.2},
		{"cosine quarter", cos, 4, 0.2 + 0.8*0.5*(1+math.Cos(math.Pi/4))},
		{"cosine end", cos, 10, 0.2},
		{"no warmup, step 0", Schedule{Peak: 3, Total: 10}, 0, 3},
		{"no warmup, cosine step 0", Schedule{Peak: 3, Total: 10, Decay: DecayCosine}, 0, 3},
		{"warmup as long as the run", Schedule{Peak: 2, Min: 0.5, Warmup: 5, Total: 5}, 6, 2},
		{"warmup longer than the run", Schedule{Peak: 2, Min: 0.5, Warmup: 8, Total: 5}, 9, 2},
		{"warmup of one step", Schedule{Peak: 2, Warmup: 1, Total: 3}, 1, 2},
		{"constant after warmup", Schedule{Peak: 2, Min: 1, Warmup: 2, Total: 6, Decay: DecayConstant}, 5, 2},
	}
	for _, c := range cases {
		if got := c.s.LR(c.step); !(math.Abs(got-c.want) <= 1e-12) {
			t.Errorf("%s: %+v LR(%d) = %v, want %v", c.name, c.s, c.step, got, c.want)
		}
	}
	for in, want := range map[string]Decay{"": DecayLinear, "linear": DecayLinear, "cosine": DecayCosine, "constant": DecayConstant, "rsqrt": DecayRsqrt} {
		if d, err := ParseDecay(in); err != nil || d != want {
			t.Errorf("ParseDecay(%q) = %v, %v", in, d, err)
		}
	}
	if _, err := ParseDecay("exponential"); err == nil {
		t.Error("ParseDecay accepted exponential")
	}
}
