package fnet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fnet-tui/fnet-tui/kernels"
)

// sharedFixtures is ../shared/ref/fixtures beside the checkout.
func sharedFixtures(t *testing.T) string {
	dir := filepath.Join("..", "..", "shared", "ref", "fixtures")
	if _, err := os.Stat(filepath.Join(dir, "tiny.weights.safetensors")); err != nil {
		t.Skipf("reference fixtures not found in %s (../shared must sit beside the checkout)", dir)
	}
	return dir
}

func checkParity(t *testing.T, weights, expect string, method kernels.MixMethod) {
	t.Helper()
	rep, err := RunParity(weights, expect, MixOption{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) < 10 {
		t.Fatalf("only %d tensors compared", len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if r.Err != "" || r.RelErr > 1e-3 || r.UpdateErr > 1e-3 {
			t.Errorf("%s: rel %.3g update %.3g %s", r.Name, r.RelErr, r.UpdateErr, r.Err)
		}
	}
	worst, name := rep.Worst()
	t.Logf("%s (%v mixing): %d tensors, worst %.3g (%s)", filepath.Base(expect), method, len(rep.Rows), worst, name)
}

func TestParitySharedTinyFixture(t *testing.T) {
	dir := sharedFixtures(t)
	for _, m := range []kernels.MixMethod{kernels.MixFFT, kernels.MixDFT} {
		checkParity(t, filepath.Join(dir, "tiny.weights.safetensors"), filepath.Join(dir, "tiny.expect.safetensors"), m)
	}
}
