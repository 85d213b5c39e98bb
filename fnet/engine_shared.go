package fnet

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/kernels"
)

// Helpers both engines use, so that what one accepts or computes the other
// does too.

// CheckTensorSet reports every missing or misshaped tensor of p against
// specs at once (extra names, such as a Hugging Face checkpoint's tied
// decoder aliases, are ignored). Both engines check what crosses the
// Engine interface with it.
func CheckTensorSet(what string, specs []ParamSpec, p map[string][]float32) error {
	var missing, bad []string
	for _, ps := range specs {
		d, ok := p[ps.Name]
		if !ok {
			missing = append(missing, ps.Name)
		} else if len(d) != NumElements(ps.Shape) {
			bad = append(bad, fmt.Sprintf("%s has %d values, want %v", ps.Name, len(d), ps.Shape))
		}
	}
	if len(missing)+len(bad) == 0 {
		return nil
	}
	msg := what + ":"
	if len(missing) > 0 {
		msg += fmt.Sprintf(" missing %v;", missing)
	}
	if len(bad) > 0 {
		msg += fmt.Sprintf(" misshaped %v;", bad)
	}
	return fmt.Errorf("%s", msg[:len(msg)-1])
}

// Step returns the coefficients of AdamW update t (1-based) at learning
// rate lr, as both engines' kernels take them.
func (o AdamWConfig) Step(lr float64, t int) kernels.AdamWCoef {
	return kernels.AdamWCoefficients(lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, t)
}
