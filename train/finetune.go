package train

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
)

// finetuneJob feeds the loop GLUE training batches (epochSampler) and
// scores the dev sets.
type finetuneJob struct {
	task    glue.Task
	train   *glue.Encoded
	devs    []devSet
	batch   int
	evalB   int
	metric  string // dev metric that picks the best checkpoint
	sampler epochSampler
}

// devSet is one labelled evaluation split (MNLI has two).
type devSet struct {
	task     glue.Task
	enc      *glue.Encoded
	examples []glue.Example
	suffix   string // metric name suffix: "" or "_mm"
}

func (j *finetuneJob) next(context.Context) (*fnet.Batch, error) {
	return j.train.Batch(j.sampler.next()), nil
}

func (j *finetuneJob) dataState() (json.RawMessage, error) { return json.Marshal(j.sampler.pos) }

func (j *finetuneJob) waitTime() (time.Duration, time.Duration) { return 0, 0 }

func (j *finetuneJob) loss(s fnet.Stats) float64 { return s.TaskLoss() }

func (j *finetuneJob) trainValues(s fnet.Stats) map[string]float64 {
	v := map[string]float64{"loss": s.TaskLoss()}
	if !j.task.IsRegression {
		v["accuracy"] = s.TaskAcc()
	}
	return v
}

func (j *finetuneJob) trainSummary(v map[string]float64) string {
	if j.task.IsRegression {
		return fmt.Sprintf("loss %.4f", v["loss"])
	}
	return fmt.Sprintf("loss %.4f | acc %.3f", v["loss"], v["accuracy"])
}

// evaluate scores every dev set with the task's official metrics; the
// score that picks the best checkpoint is the first set's leaderboard metric.
func (j *finetuneJob) evaluate(ctx context.Context, eng fnet.Engine) (evalResult, error) {
	res := evalResult{values: map[string]float64{}, task: j.task.Name, metric: j.metric}
	summary := ""
	for i, d := range j.devs {
		preds, st, err := Predict(ctx, eng, d.enc, j.evalB)
		if err != nil {
			return evalResult{}, err
		}
		scores, err := glue.ScoreExamples(d.task, preds, d.examples)
		if err != nil {
			return evalResult{}, err
		}
		for k, v := range scores {
			res.values[k+d.suffix] = v
		}
		res.values["loss"+d.suffix] = st.TaskLoss()
		if i == 0 {
			res.score = scores[j.metric]
		}
		for _, m := range d.task.Metrics {
			summary += fmt.Sprintf("%s%s %.4f | ", m, d.suffix, scores[m])
		}
	}
	res.summary = fmt.Sprintf("%s: %sdev loss %.4f", j.task.Display, summary, res.values["loss"])
	return res, nil
}

func (j *finetuneJob) close() {}

// Predict runs an encoded split through the classifier in batches and
// returns one prediction per example: the argmax class id, or the
// regression value. Unlabelled splits get placeholder labels the loss
// ignores.
func Predict(ctx context.Context, eng fnet.Engine, enc *glue.Encoded, batch int) ([]float64, fnet.Stats, error) {
	return predictBatches(ctx, eng, enc.Len(), batch, enc.Task.IsRegression, func(lo, hi int) *fnet.Batch {
		b := enc.Range(lo, hi)
		if !enc.Labelled {
			if enc.Task.IsRegression {
				b.Targets = make([]float32, b.B)
			} else {
				b.Labels = make([]int, b.B)
			}
		}
		return b
	})
}

// predictBatches evaluates examples 0..n-1 in batches of at most batch
// (rows lo..hi-1 from rows) and returns each example's argmax class, or
// its regression value, with the summed stats.
func predictBatches(ctx context.Context, eng fnet.Engine, n, batch int, regression bool, rows func(lo, hi int) *fnet.Batch) ([]float64, fnet.Stats, error) {
	preds := make([]float64, 0, n)
	var total fnet.Stats
	classes := eng.Config().NumLabels
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, total, err
		}
		b := rows(lo, min(lo+batch, n))
		st, logits, err := eng.Evaluate(b)
		if err != nil {
			return nil, total, err
		}
		total.Add(st)
		for r := 0; r < b.B; r++ {
			row := logits[r*classes : (r+1)*classes]
			if regression {
				preds = append(preds, float64(row[0]))
				continue
			}
			best := 0
			for c := range row {
				if row[c] > row[best] {
					best = c
				}
			}
			preds = append(preds, float64(best))
		}
	}
	return preds, total, nil
}

// transferParams builds a finetuning model's parameters from a pretraining
// checkpoint's: every encoder tensor is copied (a missing or mis-shaped one is
// an error, since silently re-initialising it would make "finetuned from the
// checkpoint" a lie), the pooler too when the checkpoint has one, and the
// rest (the classifier) keeps its fresh seeded initialisation. It returns the
// names that start fresh.
func transferParams(mc fnet.Config, heads fnet.Heads, from map[string][]float32, seed uint64) (map[string][]float32, []string, error) {
	params := fnet.InitParams(mc, heads, seed)
	encoder := map[string]bool{}
	for _, ps := range fnet.ParamSpecs(mc, fnet.Heads{}) {
		encoder[ps.Name] = true
	}
	var fresh []string
	for _, ps := range fnet.ParamSpecs(mc, heads) {
		p, ok := from[ps.Name]
		switch {
		case ok && len(p) != fnet.NumElements(ps.Shape):
			return nil, nil, fmt.Errorf("%s has %d values, the model needs %v", ps.Name, len(p), ps.Shape)
		case ok:
			params[ps.Name] = p
		case encoder[ps.Name]:
			return nil, nil, fmt.Errorf("the checkpoint lacks encoder tensor %s", ps.Name)
		default:
			fresh = append(fresh, ps.Name)
		}
	}
	return params, fresh, nil
}
