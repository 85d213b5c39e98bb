package tui

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/fnet-tui/fnet-tui/rundir"
)

func TestConfigDiff(t *testing.T) {
	parse := func(s string) map[string]any {
		var m map[string]any
		if _, err := toml.Decode(s, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cases := []struct {
		name string
		a, b string
		want []diffRow
		same int
	}{
		{"equal", "[train]\nlr = 1e-4\n", "[train]\nlr = 1e-4\n", nil, 1},
		{"a value", "[train]\nlr = 1e-4\nsteps = 10\n", "[train]\nlr = 2e-4\nsteps = 10\n",
			[]diffRow{{"train.lr", "0.0001", "0.0002"}}, 1},
		{"a key on one side", "[model]\narch = \"fnet\"\n", "[model]\narch = \"bert\"\nattention_layers = 2\n",
			[]diffRow{{"model.arch", `"fnet"`, `"bert"`}, {"model.attention_layers", "", "2"}}, 0},
		{"nested tables and types", "[a.b]\nc = true\n[d]\ne = [1, 2]\n", "[a.b]\nc = false\n[d]\ne = [1, 2]\n",
			[]diffRow{{"a.b.c", "true", "false"}}, 1},
		{"a string is not a number", "x = \"1\"\n", "x = 1\n", []diffRow{{"x", `"1"`, "1"}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, same := configDiff(parse(tc.a), parse(tc.b))
			if !reflect.DeepEqual(rows, tc.want) || same != tc.same {
				t.Errorf("diff %v same %d, want %v same %d", rows, same, tc.want, tc.same)
			}
		})
	}
}

// c compares the selected run's config with a marked run's; esc closes.
func TestConfigDiffKey(t *testing.T) {
	root := standardFixtures(t)
	write := func(id, cfg string) {
		if err := os.WriteFile(filepath.Join(root, id, rundir.ConfigFile), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pretrain-pretrain-mini-20250601-100000", "[model]\narch = \"fnet\"\nlayers = 4\n[train]\nlr = 1e-4\nsteps = 600\n")
	write(liveRun, "[model]\narch = \"bert\"\nlayers = 4\n[train]\nlr = 1e-4\nsteps = 3000\n")
	m := newTestModel(t, root, 100, 30)
	press(m, "c")
	if !strings.Contains(screen(m), "mark a run") {
		t.Errorf("c with nothing marked does not say what to do:\n%s", screen(m))
	}
	rv := runsOf(m)
	rv.cursor = indexOf(rv.visible(), "pretrain-pretrain-mini-20250601-100000")
	press(m, "space")
	rv.cursor = indexOf(rv.visible(), liveRun)
	press(m, "c")
	s := screen(m)
	for _, want := range []string{"Config diff", "model.arch", `"fnet"`, `"bert"`, "train.steps", "600", "3000", "2 keys differ, 2 agree"} {
		if !strings.Contains(s, want) {
			t.Errorf("diff lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "model.layers") {
		t.Errorf("an equal key is listed:\n%s", s)
	}
	press(m, "esc")
	if strings.Contains(screen(m), "Config diff") {
		t.Error("esc did not close the diff")
	}
}
