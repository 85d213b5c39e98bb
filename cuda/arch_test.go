package cuda

import (
	"errors"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// TestEngineBuildsEveryArchitecture: no architecture is refused as such
// (fnet.UnsupportedArchitectureError); without a GPU the constructor fails
// on the device, not on the model, and on a GPU it builds.
func TestEngineBuildsEveryArchitecture(t *testing.T) {
	for _, arch := range []string{"fnet", "bert", "linear", "random", "ff_only", "hybrid"} {
		cfg, err := fnet.WithArchitecture(fnet.Presets["mini"], arch)
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngineWithOptions(cfg, fnet.MaskedLMHeads, fnet.DefaultAdamW, 1, BF16, Options{})
		var ua *fnet.UnsupportedArchitectureError
		if errors.As(err, &ua) {
			t.Errorf("%s: refused: %v", arch, err)
		}
		if err == nil {
			e.Close()
		} else if Available() == nil {
			t.Errorf("%s: %v", arch, err)
		}
	}
}

// The one configuration limit: an attention layer past index 1023 has no
// dropout site (fnet.DropoutSiteAttention's 10-bit layer field); refused by
// name before any device work, so it holds without a GPU.
func TestEngineRefusesAttentionPastDropoutSites(t *testing.T) {
	cfg := smallConfig(0)
	cfg.NumLayers, cfg.Architecture, cfg.AttentionLayers, cfg.AttentionLayout = 1030, "fnet", 2, "top"
	_, err := NewEngineWithOptions(cfg, fnet.MaskedLMHeads, fnet.DefaultAdamW, 1, FP32, Options{})
	var ua *fnet.UnsupportedArchitectureError
	if !errors.As(err, &ua) || !strings.Contains(err.Error(), "layer 1028") || !strings.Contains(err.Error(), "1023") {
		t.Errorf("error %v", err)
	}
}
