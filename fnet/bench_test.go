package fnet

import (
	"testing"

	"github.com/fnet-tui/fnet-tui/kernels"
)

// BenchmarkTrainStep times one full training step (forward, backward,
// AdamW) at the mini and small presets, the same work as the PyTorch
// reference's --preset mini|small --mode train.
func BenchmarkTrainStep(b *testing.B) {
	for _, preset := range []string{"mini", "small"} {
		b.Run(preset, func(b *testing.B) {
			cfg, _ := PresetConfig(preset)
			shape := BenchShapes[preset]
			cfg.DropoutProb, cfg.SeqLen = 0, shape.S
			eng, err := NewCPUEngine(cfg, MaskedLMHeads, DefaultAdamW, CPUOptions{Seed: 1, MixMethod: kernels.MixAuto})
			if err != nil {
				b.Fatal(err)
			}
			batch := SyntheticBatch(cfg, shape, 1)
			step := func(i int) {
				if _, err := eng.ForwardBackward(batch, uint64(i), 1); err != nil {
					b.Fatal(err)
				}
				if _, err := eng.Step(1e-4, 0); err != nil {
					b.Fatal(err)
				}
			}
			step(0) // build the graph and touch every buffer
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step(i + 1)
			}
			b.ReportMetric(float64(shape.B*shape.S)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
		})
	}
}
