package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// TestParityCommandPrintsHeadsAndCurve: fnet-tui parity's table has the
// head rows and every loss-curve point for a pretraining and a classifier
// fixture, passes at 1e-3 and fails on the same rows at a tolerance no
// float32 run meets.
func TestParityCommandPrintsHeadsAndCurve(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "parity")
	for _, c := range []struct {
		name string
		rows []string
	}{
		{"pretrain_odd", []string{"loss", "loss_mlm", "loss_nsp", "act.pooled", "act.nsp_logits", "act.mlm_logits", "grad.cls.seq_relationship.weight"}},
		{"cls5_prime", []string{"loss", "act.pooled", "act.logits", "grad.classifier.weight", "param_after_step.fnet.pooler.dense.weight"}},
		{"reg_odd", []string{"loss", "act.pooled", "act.logits", "grad.classifier.bias"}},
	} {
		prefix := filepath.Join(dir, c.name)
		rep, err := fnet.RunParity(prefix+".weights.safetensors", prefix+".expect.safetensors", fnet.MixOption{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := printParityReport(&out, rep, 1e-3); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out.String())
		}
		text := out.String()
		for _, r := range append(c.rows, "loss_curve[0]", "loss_curve[4]", "PARITY PASS") {
			if !strings.Contains(text, "\n"+r+" ") && !strings.Contains(text, r+":") {
				t.Errorf("%s: no %q in\n%s", c.name, r, text)
			}
		}
		// loss_curve[i >= 1] print the step change's error
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "loss_curve[") && !strings.HasPrefix(line, "loss_curve[0]") && strings.Fields(line)[3] == "-" {
				t.Errorf("%s: no update_rel for %q", c.name, line)
			}
		}
		out.Reset()
		err = printParityReport(&out, rep, 1e-12)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out.String(), "PARITY FAIL") {
			t.Errorf("%s at tol 1e-12: %v\n%s", c.name, err, out.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "loss_curve[4]") && !strings.HasSuffix(line, "FAIL") {
				t.Errorf("%s: loss_curve[4] passes at 1e-12: %q", c.name, line)
			}
		}
	}
}

// TestParityCommandEveryArchitecture: the command passes the reference's
// BERT, hybrid, linear, random and FF-only dumps on the CPU engine.
func TestParityCommandEveryArchitecture(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "ref", "fixtures")
	if _, err := os.Stat(filepath.Join(dir, "bert_pretrain_tiny.weights.safetensors")); err != nil {
		t.Skip("shared reference fixtures not found")
	}
	for _, name := range []string{"bert_pretrain_tiny", "hybrid_tiny", "linear_tiny", "random_tiny", "ffonly_tiny"} {
		prefix := filepath.Join(dir, name)
		if err := runParity([]string{prefix + ".weights.safetensors", prefix + ".expect.safetensors"}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
