package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/train"
	"github.com/fnet-tui/fnet-tui/tui"
)

// The launch form's overrides hint resolves, with the trainer's own
// check, on every pretraining config the repository ships.
func TestLaunchFormHintIsValid(t *testing.T) {
	cfgs, _ := filepath.Glob("../../configs/pretrain-*.toml")
	if len(cfgs) == 0 {
		t.Fatal("no pretraining configs")
	}
	for _, c := range cfgs {
		if err := train.Check(train.Options{ConfigPath: c, Overrides: strings.Fields(tui.OverrideExample)}, "pretrain"); err != nil {
			t.Errorf("%s with the form's hint %q: %v", c, tui.OverrideExample, err)
		}
	}
}
