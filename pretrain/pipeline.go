package pretrain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
)

// ErrNoExamples is returned (wrapped) when a full pass over the selected
// documents yields no example: every document has fewer than two lines that
// fit in SeqLen-3 tokens, or the split is empty.
var ErrNoExamples = errors.New("pretrain: no examples")

// The pipeline is four stages joined by channels:
//
//	reader ──jobs──▶ workers (tokenise, pack, mask one document each)
//	   └──pending (same tasks, in corpus order)──▶ fillBlocks ──blocks──▶ cutBatches ──out──▶ Next
//
// The reader hands every document to both channels, so fillBlocks sees
// tasks in corpus order and waits for each to be done, whichever worker
// finished first. The capacity of pending bounds the documents in flight;
// fillBlocks works one shuffle block ahead of cutBatches, which keeps
// Prefetch batches ready.

// task is one document on its way through the pipeline, or an end-of-epoch
// marker, or a read error.
type task struct {
	epoch, order int // epoch, and the source's position in that epoch's order
	doc          corpus.Document
	skip         int // leading examples of the document already delivered before a resume

	done     chan struct{} // closed once examples (or err) are set
	examples []example
	err      error

	epochEnd  bool // marker after the last document of an epoch
	fullEpoch bool // on a marker: the epoch was read from its beginning
}

// item is what cutBatches hands to Next.
type item struct {
	batch *fnet.Batch
	state State
	err   error
}

type pipeline struct {
	c       *corpus.Corpus // restricted to the split
	b       *builder
	o       Options
	start   State
	shuffle bool
	finite  bool // one epoch, then io.EOF (evaluation)

	out    chan item
	cancel context.CancelFunc
	wg     sync.WaitGroup

	orderCache []int // cutBatches' copy of one epoch's source order
	orderEpoch int
}

func startPipeline(c *corpus.Corpus, b *builder, o Options, start State, finite bool) *pipeline {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{
		c: c, b: b, o: o, start: start, shuffle: o.ShuffleBuffer > 1, finite: finite,
		out: make(chan item, o.Prefetch), cancel: cancel,
	}
	jobs := make(chan *task, o.Workers)
	pending := make(chan *task, 8*o.Workers)
	blocks := make(chan *block, 1)
	p.wg.Add(3 + o.Workers)
	go func() { defer p.wg.Done(); p.read(ctx, jobs, pending) }()
	for range o.Workers {
		go func() { defer p.wg.Done(); p.work(ctx, jobs) }()
	}
	go func() { defer p.wg.Done(); p.fillBlocks(ctx, pending, blocks) }()
	go func() { defer p.wg.Done(); p.cutBatches(ctx, blocks) }()
	return p
}

func (p *pipeline) stop() {
	p.cancel()
	p.wg.Wait()
}

// read walks the corpus in epoch order from the start position, forever
// unless finite.
func (p *pipeline) read(ctx context.Context, jobs, pending chan<- *task) {
	defer close(jobs)
	defer close(pending)
	send := func(ch chan<- *task, t *task) bool {
		select {
		case ch <- t:
			return true
		case <-ctx.Done():
			return false
		}
	}
	finished := func(t *task) *task { t.done = make(chan struct{}); close(t.done); return t }
	n := p.c.NumSources()
	for epoch := p.start.Epoch; ; epoch++ {
		order := epochOrder(p.o.Seed, epoch, n, p.shuffle)
		first, full := 0, true
		if epoch == p.start.Epoch {
			first = p.start.Source
			full = first == 0 && p.start.Doc == (corpus.Cursor{}) && p.start.DocExample == 0
		}
		for oi := first; oi < n; oi++ {
			from, skip := corpus.Cursor{}, 0
			if epoch == p.start.Epoch && oi == p.start.Source {
				from, skip = p.start.Doc, p.start.DocExample
			}
			for d, err := range p.c.SourceDocuments(order[oi], from) {
				if err != nil {
					send(pending, finished(&task{err: err}))
					return
				}
				t := &task{epoch: epoch, order: oi, doc: d, done: make(chan struct{})}
				if skip > 0 && d.Doc == from.Doc {
					t.skip = skip
				}
				if !send(pending, t) || !send(jobs, t) {
					return
				}
			}
		}
		if !send(pending, finished(&task{epoch: epoch, epochEnd: true, fullEpoch: full})) || p.finite {
			return
		}
	}
}

func (p *pipeline) work(ctx context.Context, jobs <-chan *task) {
	for t := range jobs {
		if ctx.Err() == nil {
			rng := documentRand(p.o.Seed, t.epoch, t.doc.Source, t.doc.Doc)
			t.examples = p.b.document(t.doc.Sentences, rng, t.skip)
		}
		close(t.done)
	}
}

// position is where an example comes from, in State's terms.
type position struct {
	epoch, order int
	doc          corpus.Cursor
	docExample   int
}

// exampleSource hands fillBlocks the examples in corpus order.
type exampleSource struct {
	ctx      context.Context
	pending  <-chan *task
	cur      *task
	next     int // index into cur.examples
	inEpoch  int64
	p        *pipeline
	finished bool
}

// pull returns the next example and its position; ok is false at the end of
// a finite pass or when the stream is cancelled.
func (s *exampleSource) pull() (ex example, pos position, ok bool, err error) {
	for s.cur == nil || s.next == len(s.cur.examples) {
		var t *task
		select {
		case t, ok = <-s.pending:
			if !ok {
				s.finished = true
				return ex, pos, false, nil
			}
		case <-s.ctx.Done():
			return ex, pos, false, nil
		}
		select {
		case <-t.done:
		case <-s.ctx.Done():
			return ex, pos, false, nil
		}
		if t.err != nil {
			return ex, pos, false, t.err
		}
		if t.epochEnd {
			if t.fullEpoch && s.inEpoch == 0 {
				return ex, pos, false, fmt.Errorf("%w: a full pass over the %s split of corpus %s yielded none (documents need two consecutive lines that fit in SeqLen-3 = %d tokens)",
					ErrNoExamples, s.p.o.Split, s.p.c.Spec(), s.p.o.SeqLen-3)
			}
			s.inEpoch = 0
			continue
		}
		s.cur, s.next = t, 0
	}
	t := s.cur
	ex = t.examples[s.next]
	pos = position{epoch: t.epoch, order: t.order, doc: t.doc.Cursor, docExample: t.skip + s.next}
	s.next++
	s.inEpoch++
	return ex, pos, true, nil
}

// block is ShuffleBuffer consecutive examples of the corpus stream and the
// order to deliver them in; a finite pass ends with a shorter block.
type block struct {
	number   int64
	examples []example
	perm     []int    // nil: in order
	start    position // of examples[0]
	err      error
}

// fillBlocks cuts the example stream into blocks. It runs one block ahead of
// cutBatches, so the workers keep building while a block is being delivered.
func (p *pipeline) fillBlocks(ctx context.Context, pending <-chan *task, blocks chan<- *block) {
	defer close(blocks)
	src := &exampleSource{ctx: ctx, pending: pending, p: p}
	for n := p.start.Block; ; n++ {
		blk := &block{number: n, examples: make([]example, 0, p.o.ShuffleBuffer)}
		for len(blk.examples) < p.o.ShuffleBuffer {
			ex, pos, ok, err := src.pull()
			if err != nil {
				blk.err = err
				break
			}
			if !ok {
				break
			}
			if len(blk.examples) == 0 {
				blk.start = pos
			}
			blk.examples = append(blk.examples, ex)
		}
		if ctx.Err() != nil || (blk.err == nil && len(blk.examples) == 0) {
			return
		}
		if p.shuffle && blk.err == nil {
			blk.perm = blockRand(p.o.Seed, n).Perm(len(blk.examples))
		}
		select {
		case blocks <- blk:
		case <-ctx.Done():
			return
		}
		if blk.err != nil || len(blk.examples) < p.o.ShuffleBuffer {
			return
		}
	}
}

// cutBatches delivers the blocks' examples in batches, attaching to each
// batch the State after it.
func (p *pipeline) cutBatches(ctx context.Context, blocks <-chan *block) {
	defer close(p.out)
	emit := func(it item) bool {
		select {
		case p.out <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	st := p.start
	var blk *block
	taken := 0
	// next moves to the following block; ok is false at the end of a finite
	// pass or on cancellation.
	next := func() (ok bool, err error) {
		select {
		case blk, ok = <-blocks:
		case <-ctx.Done():
			return false, nil
		}
		if !ok {
			return false, nil
		}
		if blk.err != nil {
			return false, blk.err
		}
		if blk.number == p.start.Block {
			taken = p.start.TakenInBlock // resuming inside this block
		} else {
			taken = 0
		}
		st.Block = blk.number
		st.Epoch, st.Source, st.Doc, st.DocExample = blk.start.epoch, blk.start.order, blk.start.doc, blk.start.docExample
		st.SourceName = p.c.SourceName(p.sourceAt(blk.start.epoch, blk.start.order))
		return true, nil
	}
	more, err := next()
	for more || err != nil {
		rows := make([]example, 0, p.o.BatchSize)
		for more && err == nil && len(rows) < p.o.BatchSize {
			if taken == len(blk.examples) {
				more, err = next()
				continue
			}
			i := taken
			if blk.perm != nil {
				i = blk.perm[taken]
			}
			rows = append(rows, blk.examples[i])
			taken++
		}
		if err != nil {
			emit(item{err: err})
			return
		}
		if len(rows) > 0 {
			st.TakenInBlock = taken
			st.ExamplesTaken += int64(len(rows))
			st.BatchesTaken++
			if !emit(item{batch: p.batch(rows), state: st}) {
				return
			}
			if p.finite && p.o.EvalBatches > 0 && st.BatchesTaken >= int64(p.o.EvalBatches) {
				break
			}
		}
	}
	switch {
	case ctx.Err() != nil:
	case st.ExamplesTaken == p.start.ExamplesTaken:
		emit(item{err: fmt.Errorf("%w: the %s split of corpus %s yielded none", ErrNoExamples, p.o.Split, p.c.Spec())})
	default:
		emit(item{err: io.EOF})
	}
}

// sourceAt is the corpus index of the source at position order of epoch.
// Only cutBatches calls it, so the cached order needs no lock.
func (p *pipeline) sourceAt(epoch, order int) int {
	if p.orderCache == nil || p.orderEpoch != epoch {
		p.orderCache, p.orderEpoch = epochOrder(p.o.Seed, epoch, p.c.NumSources(), p.shuffle), epoch
	}
	return p.orderCache[order]
}

// batch lays rows out as an fnet.Batch; unused masked-LM slots have position
// 0, label 0 and weight 0.
func (p *pipeline) batch(rows []example) *fnet.Batch {
	n, s, k := len(rows), p.o.SeqLen, p.o.MaxPredictions
	b := &fnet.Batch{
		B: n, S: s, K: k,
		InputIDs: make([]int, n*s), TypeIDs: make([]int, n*s),
		MaskedPos: make([]int, n*k), MaskedLabels: make([]int, n*k), MaskedWeight: make([]float32, n*k),
		Labels: make([]int, n),
	}
	for r, ex := range rows {
		for i := range s {
			b.InputIDs[r*s+i] = int(ex.ids[i])
			b.TypeIDs[r*s+i] = int(ex.types[i])
		}
		for i := range ex.predictions {
			b.MaskedPos[r*k+i] = int(ex.maskPos[i])
			b.MaskedLabels[r*k+i] = int(ex.maskLabels[i])
			b.MaskedWeight[r*k+i] = 1
		}
		b.Labels[r] = int(ex.nsp)
	}
	return b
}
