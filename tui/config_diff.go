package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// diffRow is one config key whose value differs between two runs ("" is
// a key the run's config does not have).
type diffRow struct {
	key  string
	a, b string
}

// configDiff is the keys whose values differ between two parsed configs,
// by dotted key ("train.lr"), sorted; same is how many keys agree.
func configDiff(a, b map[string]any) (rows []diffRow, same int) {
	fa, fb := map[string]string{}, map[string]string{}
	flattenTOML("", a, fa)
	flattenTOML("", b, fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	for k := range keys {
		if fa[k] == fb[k] {
			same++
			continue
		}
		rows = append(rows, diffRow{key: k, a: fa[k], b: fb[k]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
	return rows, same
}

// flattenTOML writes every leaf of a decoded TOML table as prefix.key = value.
func flattenTOML(prefix string, t map[string]any, out map[string]string) {
	for k, v := range t {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case map[string]any:
			flattenTOML(key, v, out)
		case string:
			out[key] = fmt.Sprintf("%q", v)
		default:
			out[key] = fmt.Sprint(v)
		}
	}
}

// readRunConfig parses a run's saved config (the resolved one it ran with).
func readRunConfig(runDir string) (map[string]any, error) {
	path := filepath.Join(runDir, rundir.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t map[string]any
	if _, err := toml.Decode(string(b), &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// configDiffView is the Runs view's comparison of two runs' configs.
type configDiffView struct {
	a, b *runData
	rows []diffRow
	same int
	err  error
	top  int // first row shown
}

func newConfigDiff(a, b *runData) *configDiffView {
	d := &configDiffView{a: a, b: b}
	ca, err := readRunConfig(a.Dir)
	if err != nil {
		d.err = err
		return d
	}
	cb, err := readRunConfig(b.Dir)
	if err != nil {
		d.err = err
		return d
	}
	d.rows, d.same = configDiff(ca, cb)
	return d
}

// view draws the diff in w×h.
func (d *configDiffView) view(st styles, w, h int) string {
	var b strings.Builder
	close := keyName(actBack, inRuns)
	b.WriteString(st.header.Render("Config diff") + st.dim.Render("  ("+close+" closes)") + "\n")
	b.WriteString(st.dim.Render(truncate("A "+d.a.ID, w)) + "\n")
	b.WriteString(st.dim.Render(truncate("B "+d.b.ID, w)) + "\n")
	if d.err != nil {
		b.WriteString(st.err.Render(truncate(d.err.Error(), w)) + "\n")
		return b.String()
	}
	if len(d.rows) == 0 {
		b.WriteString(fmt.Sprintf("\n  the configs agree on all %d keys\n", d.same))
		return b.String()
	}
	keyW := 0
	for _, r := range d.rows {
		keyW = max(keyW, len(r.key))
	}
	keyW = min(keyW, w/3)
	valW := max((w-keyW-4)/2, 6)
	b.WriteString(st.header.Render(pad("KEY", keyW)+"  "+pad("A", valW)+"  "+pad("B", valW)) + "\n")
	rows := max(h-6, 1)
	d.top = min(max(d.top, 0), max(len(d.rows)-rows, 0))
	for _, r := range d.rows[d.top:min(len(d.rows), d.top+rows)] {
		a, bv := r.a, r.b
		if a == "" {
			a = "—"
		}
		if bv == "" {
			bv = "—"
		}
		b.WriteString(pad(truncate(r.key, keyW), keyW) + "  " + pad(truncate(a, valW), valW) + "  " + truncate(bv, valW) + "\n")
	}
	b.WriteString(st.dim.Render(fmt.Sprintf("%d keys differ, %d agree", len(d.rows), d.same)) + "\n")
	return b.String()
}
