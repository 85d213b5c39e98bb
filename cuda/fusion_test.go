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

func TestBenchFusionVariants(t *testing.T) {
	v, err := benchFusionVariants("")
	if err != nil || len(v) != len(fusionNames)+2 || v[0] != 0 || v[len(v)-1] != FuseAll {
		t.Fatalf("default variants %v, %v", v, err)
	}
	v, err = benchFusionVariants("none; ln-bwd,adamw ;all")
	if err != nil || len(v) != 3 || v[1] != FuseLayerNormBackward|FuseOptimizer || v[2] != FuseAll {
		t.Fatalf("parsed %v, %v", v, err)
	}
	if _, err := benchFusionVariants("none;lnbwd"); err == nil || !strings.Contains(err.Error(), "FNET_BENCH_FUSE") {
		t.Fatalf("bad variant: %v", err)
	}
}

func TestFusionFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "FNET_CUDA_FUSE" {
				return v
			}
			return ""
		}
	}
	if f, err := FusionFromEnv(env("")); err != nil || f != 0 {
		t.Errorf("unset: %v, %v", f, err)
	}
	if f, err := FusionFromEnv(env("gelu,ln-bwd")); err != nil || f != FuseGELU|FuseLayerNormBackward {
		t.Errorf("gelu,ln-bwd: %v, %v", f, err)
	}
	if _, err := FusionFromEnv(env("fast")); err == nil || !strings.HasPrefix(err.Error(), "FNET_CUDA_FUSE: ") {
		t.Errorf("bad value: %v", err)
	}
}
