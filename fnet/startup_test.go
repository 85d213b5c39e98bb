package fnet

import (
	"os"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGorgoniaStartsAndRuns guards the start-up panic of gorgonia's old
// go4.org/unsafe/assume-no-moving-gc on new Go releases: this test binary
// imports gorgonia, so reaching the test at all means init did not panic;
// it also runs a graph, and checks go.mod keeps the pinned version.
func TestGorgoniaStartsAndRuns(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 2), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))))
	y := G.Must(G.Sum(G.Must(G.Mul(x, x))))
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// [[1 2][3 4]]² = [[7 10][15 22]], sum 54
	if got := y.Value().Data().(float32); got != 54 {
		t.Fatalf("sum(x·x) = %v, want 54", got)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "go4.org/unsafe/assume-no-moving-gc v0.0.0-20231121144256-b99613f794b6") {
		t.Error("go.mod no longer pins go4.org/unsafe/assume-no-moving-gc at v0.0.0-20231121144256-b99613f794b6; older versions panic at start on Go 1.26")
	}
}
