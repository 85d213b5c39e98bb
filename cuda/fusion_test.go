package cuda

import (
	"strings"
	"testing"
)

func TestParseFusion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Fusion
	}{
		{"", 0},
		{"none", 0},
		{"ln-bwd", FuseLayerNormBackward},
		{"gelu, adamw", FuseGELU | FuseOptimizer},
		{"all", FuseAll},
		{"ln-bwd,ln-fwd,gelu,epilogue,adamw", FuseAll},
	} {
		got, err := ParseFusion(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFusion(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if again, err := ParseFusion(got.String()); err != nil || again != got {
			t.Errorf("round trip of %v: %v, %v", got, again, err)
		}
	}
	if _, err := ParseFusion("ln-bwd,fast"); err == nil || !strings.Contains(err.Error(), `"fast"`) || !strings.Contains(err.Error(), "epilogue") {
		t.Errorf("unknown name: %v", err)
	}
	if FuseAll.String() != "ln-bwd,ln-fwd,gelu,epilogue,adamw" || Fusion(0).String() != "none" {
		t.Errorf("names: %v / %v", FuseAll, Fusion(0))
	}
}
