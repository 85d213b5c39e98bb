package fnet

// Engine is one device's implementation of FNet training and evaluation. The
// CPU engine (this package, on gorgonia) and the CUDA engine (package cuda)
// both implement it, so the trainer, checkpoints, run directories and
// metrics are the same whatever the device.
//
// Parameters and optimizer moments cross the interface as host float32
// slices under Hugging Face names (ParamSpecs order), which is also the
// checkpoint layout.
type Engine interface {
	Config() Config
	Heads() Heads
	// Device describes where the engine runs, e.g. "cpu (2 threads, OpenBLAS)"
	// or "cuda:0 (NVIDIA H100 80GB HBM3)".
	Device() string

	// ForwardBackward runs one micro-batch with dropout active and adds
	// scale × its gradients to the engine's gradient buffers (scale is 1/the
	// number of accumulated micro-batches). dropoutStep numbers the
	// micro-batch for the counter-based dropout masks (see DropoutKeep), so a
	// resumed run draws the same masks.
	ForwardBackward(b *Batch, dropoutStep uint64, scale float32) (Stats, error)
	// Step clips the accumulated gradients to maxNorm (when maxNorm > 0),
	// applies one AdamW update with learning rate lr and zeroes the
	// gradients. It returns the global gradient norm before clipping.
	Step(lr float64, maxNorm float64) (gradNorm float64, err error)
	// Evaluate runs a forward pass without dropout. For a classifier head it
	// also returns the logits, [B × NumLabels] row-major.
	Evaluate(b *Batch) (Stats, []float32, error)
	// MaskedLMLogits runs the model without dropout and returns the
	// masked-LM logits (output bias included) at the batch's masked
	// positions, [B·K × VocabSize] row-major (the REPL, predict).
	MaskedLMLogits(b *Batch) ([]float32, error)
	// HiddenStates runs the model without dropout and returns the
	// embedding output and every layer's output, each [B·S × H] with rows
	// in batch order (b·S + s), for probes of what a checkpoint's
	// representations hold.
	HiddenStates(b *Batch) (embeddings []float32, layers [][]float32, err error)

	// Params copies the parameters out, by Hugging Face name. A device
	// read error is returned, never a panic: a checkpoint that cannot be
	// read fails the run with its reason.
	Params() (map[string][]float32, error)
	// SetParams overwrites every parameter; a missing or misshaped one is an error.
	SetParams(p map[string][]float32) error
	// Optimizer copies out the AdamW state: the number of updates taken and
	// the first and second moments by parameter name.
	Optimizer() (OptimizerState, error)
	SetOptimizer(s OptimizerState) error

	Close() error
}

// GradientTensors is an engine whose accumulated gradients can be reached
// between ForwardBackward and Step: data parallel averages them across
// ranks in place (package dist) so every rank takes the same step.
type GradientTensors interface {
	// AccumulatedGradients returns the gradients awaiting Step, already
	// scaled, one slice per trained parameter in ParamSpecs order. The
	// slices are the engine's own buffers: what the caller writes into
	// them before Step is what Step applies (and what its norm measures).
	AccumulatedGradients() ([][]float32, error)
}

// OptimizerState is AdamW's state for checkpoints.
type OptimizerState struct {
	Step int
	M, V map[string][]float32
}

// AdamWConfig holds AdamW's hyper-parameters: decoupled weight decay
// (p -= lr·wd·p) on every parameter, bias-corrected moments (flax.optim.Adam
// with weight_decay, as the official FNet code uses).
type AdamWConfig struct {
	Beta1, Beta2, Eps, WeightDecay float64
}

// DefaultAdamW is the official FNet optimizer: β = (0.9, 0.999), eps 1e-6, wd 0.01.
var DefaultAdamW = AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01}

// Stats are sums over one micro-batch, so micro-batches and eval batches
// combine by adding. Means are Sum/Count.
type Stats struct {
	Examples int // sequences in the batch

	MLMLossSum  float64 // Σ weight·CE over masked slots
	MLMCount    float64 // Σ weight (real masked slots)
	MLMCorrect  float64 // Σ weight·[argmax == label]
	NSPLossSum  float64 // Σ CE over sequences
	NSPCorrect  float64
	TaskLossSum float64 // classification CE or regression squared error, summed over sequences
	TaskCorrect float64 // classification only
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Examples += o.Examples
	s.MLMLossSum += o.MLMLossSum
	s.MLMCount += o.MLMCount
	s.MLMCorrect += o.MLMCorrect
	s.NSPLossSum += o.NSPLossSum
	s.NSPCorrect += o.NSPCorrect
	s.TaskLossSum += o.TaskLossSum
	s.TaskCorrect += o.TaskCorrect
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// MLMLoss is the mean masked-LM cross-entropy.
func (s Stats) MLMLoss() float64 { return ratio(s.MLMLossSum, s.MLMCount) }

// MLMAcc is the masked-LM accuracy.
func (s Stats) MLMAcc() float64 { return ratio(s.MLMCorrect, s.MLMCount) }

// NSPLoss is the mean next-sentence (segment order) cross-entropy.
func (s Stats) NSPLoss() float64 { return ratio(s.NSPLossSum, float64(s.Examples)) }

// NSPAcc is the next-sentence accuracy.
func (s Stats) NSPAcc() float64 { return ratio(s.NSPCorrect, float64(s.Examples)) }

// TaskLoss is the mean finetuning loss.
func (s Stats) TaskLoss() float64 { return ratio(s.TaskLossSum, float64(s.Examples)) }

// TaskAcc is the classification accuracy.
func (s Stats) TaskAcc() float64 { return ratio(s.TaskCorrect, float64(s.Examples)) }

// PretrainLoss is the official pretraining objective: mean MLM CE + mean NSP CE.
func (s Stats) PretrainLoss() float64 { return s.MLMLoss() + s.NSPLoss() }
