package tui

import (
	"errors"
	"strings"
	"testing"
)

// TestLaunchIsValidatedBeforeStarting: a launch whose config the trainer
// would refuse (Options.Validate, train.Check in the real dashboard) is not
// started, and the form says why in the trainer's words.
func TestLaunchIsValidatedBeforeStarting(t *testing.T) {
	var checked LaunchSpec
	m := newTestModel(t, standardFixtures(t), 100, 30, func(o *Options) {
		o.Validate = func(s LaunchSpec) error {
			checked = s
			return errors.New("--set train.batch_size: unknown key train.batch_size (known keys are listed in docs/CONFIG.md)")
		}
	})
	press(m, "n")
	spec, err := launchOf(m).spec() // the config the form shows: its outcome is shown under it
	if err != nil {
		t.Fatal(err)
	}
	spec.Overrides = []string{"train.batch_size=8"}
	msg := m.start(spec, false)() // Options.Launch fails the test if it is reached
	m.Update(msg)
	if checked.Config != spec.Config || len(checked.Overrides) != 1 || checked.Config == "" {
		t.Errorf("validated %+v, want the launched spec", checked)
	}
	s := screen(m)
	if !strings.Contains(s, "not started") || !strings.Contains(s, "unknown key train.batch_size") {
		t.Errorf("the refusal is not shown:\n%s", s)
	}
}
