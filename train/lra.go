package train

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/lra"
)

// lraJob feeds the loop a Long Range Arena task's training batches and
// scores its validation split: accuracy, the LRA metric, picks the best
// checkpoint. It differs from finetuneJob in its data (fixed vocabulary,
// one segment, classes only), not in how the loop treats it.
type lraJob struct {
	task    lra.Task
	train   *lra.Encoded
	val     *lra.Encoded
	evalB   int
	sampler epochSampler
}

func (j *lraJob) next(context.Context) (*fnet.Batch, error) {
	return j.train.Batch(j.sampler.next()), nil
}

func (j *lraJob) dataState() (json.RawMessage, error) { return json.Marshal(j.sampler.pos) }

func (j *lraJob) waitTime() (time.Duration, time.Duration) { return 0, 0 }

func (j *lraJob) loss(s fnet.Stats) float64 { return s.TaskLoss() }

func (j *lraJob) trainValues(s fnet.Stats) map[string]float64 {
	return map[string]float64{"loss": s.TaskLoss(), "accuracy": s.TaskAcc()}
}

func (j *lraJob) trainSummary(v map[string]float64) string {
	return fmt.Sprintf("loss %.4f | acc %.3f", v["loss"], v["accuracy"])
}

// lraMetric is the one metric of both LRA tasks.
const lraMetric = "accuracy"

func (j *lraJob) evaluate(ctx context.Context, eng fnet.Engine) (evalResult, error) {
	acc, st, err := lraAccuracy(ctx, eng, j.val, j.evalB)
	if err != nil {
		return evalResult{}, err
	}
	return evalResult{values: map[string]float64{lraMetric: acc, "loss": st.TaskLoss()}, task: j.task.Name, metric: lraMetric, score: acc,
		summary: fmt.Sprintf("%s: accuracy %.4f | val loss %.4f", j.task.Display, acc, st.TaskLoss())}, nil
}

func (j *lraJob) close() {}

// PredictLRA returns the predicted class of every example of enc.
func PredictLRA(ctx context.Context, eng fnet.Engine, enc *lra.Encoded, batch int) ([]int, fnet.Stats, error) {
	preds, st, err := predictBatches(ctx, eng, enc.Len(), batch, false, enc.Range)
	if err != nil {
		return nil, st, err
	}
	out := make([]int, len(preds))
	for i, p := range preds {
		out[i] = int(p)
	}
	return out, st, nil
}

// lraAccuracy is the share of enc's examples the model classifies right.
func lraAccuracy(ctx context.Context, eng fnet.Engine, enc *lra.Encoded, batch int) (float64, fnet.Stats, error) {
	preds, st, err := PredictLRA(ctx, eng, enc, batch)
	if err != nil {
		return 0, st, err
	}
	return lra.Accuracy(preds, enc), st, nil
}
