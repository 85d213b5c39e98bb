package fnet

import "fmt"

// ClassifierOutputs is the width of the classifier head: Config.NumLabels,
// or 2 when it is unset (a binary task). 1 means regression.
func (c Config) ClassifierOutputs() int {
	if c.NumLabels <= 0 {
		return 2
	}
	return c.NumLabels
}

// BatchHeads says which heads run on one batch and what the sentence-level
// head computes. Both engines decide it here, so a batch that one engine
// refuses the other refuses too, with the same words.
type BatchHeads struct {
	MLM  bool // masked-LM loss at the batch's K masked positions
	NSP  bool // segment-order head over the pooled [CLS]
	Task bool // classifier or regression head over the pooled [CLS]
	// SeqOutputs is the width of the sentence-level head (2 for NSP,
	// ClassifierOutputs for the task head), 0 when neither runs.
	SeqOutputs int
	Regression bool // the task head is a regression (one output, squared error)
}

// PlanHeads checks a batch against the engine's heads: every head the
// model has gets what it needs (labels for NSP and classifiers, targets for
// regression, masked positions when the masked-LM head is the only one), and
// labels lie in the head's range.
func PlanHeads(c Config, h Heads, b *Batch) (BatchHeads, error) {
	var p BatchHeads
	p.MLM = h.MLM && b.K > 0
	if h.MLM && b.K == 0 && !h.NSP && !h.Classifier {
		return p, fmt.Errorf("batch has no masked positions for the masked-LM head")
	}
	switch {
	case h.Classifier:
		p.Task, p.SeqOutputs = true, c.ClassifierOutputs()
		p.Regression = p.SeqOutputs == 1
		if p.Regression && b.Targets == nil {
			return p, fmt.Errorf("batch has no regression targets for the regression head")
		}
		if !p.Regression && b.Labels == nil {
			return p, fmt.Errorf("batch has no labels for the classifier head")
		}
	case h.NSP:
		if b.Labels == nil {
			return p, fmt.Errorf("batch has no labels for the next-sentence head")
		}
		p.NSP, p.SeqOutputs = true, 2
	}
	if (p.NSP || p.Task) && !p.Regression {
		if err := checkRange("Labels", b.Labels, p.SeqOutputs); err != nil {
			return p, err
		}
	}
	return p, nil
}
