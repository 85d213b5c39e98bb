package cuda

import (
	"errors"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// TestEngineRefusesOtherArchitectures: the CUDA engine builds Fourier
// mixing only so far; any other layer is a typed error naming it (the
// trainer's device = auto then runs on the CPU), decided before any device
// work, so it holds without a GPU.
func TestEngineRefusesOtherArchitectures(t *testing.T) {
	for _, arch := range []string{"bert", "linear", "random", "ff_only", "hybrid"} {
		cfg, err := fnet.WithArchitecture(fnet.Presets["mini"], arch)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewEngineWithOptions(cfg, fnet.MaskedLMHeads, fnet.DefaultAdamW, 1, BF16, Options{})
		var ua *fnet.UnsupportedArchitectureError
		if !errors.As(err, &ua) || !strings.Contains(err.Error(), "not supported by the CUDA engine") || !strings.Contains(err.Error(), cfg.ArchString()) {
			t.Errorf("%s: error %v", arch, err)
		}
	}
}
