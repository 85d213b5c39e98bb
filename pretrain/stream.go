package pretrain

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("pretrain: stream closed")

// Stream is the endless training stream: epochs over the corpus split, each
// reading files in a seeded order, examples shuffled in blocks. Next is meant
// for one consumer goroutine; WaitShare and Close may be called from any.
type Stream struct {
	p      *pipeline
	err    error // sticky: once Next fails it keeps failing
	once   sync.Once
	closed atomic.Bool

	first   atomic.Int64 // unix nanoseconds of the first Next call, 0 before
	blocked atomic.Int64 // nanoseconds spent waiting in Next
}

// New starts a stream at the beginning of the corpus split opt.Split. The
// tokenizer must be safe for concurrent use: workers share it.
func New(c *corpus.Corpus, tok tokenizer.Tokenizer, opt Options) (*Stream, error) {
	o, b, c, err := prepare(c, tok, opt)
	if err != nil {
		return nil, err
	}
	return &Stream{p: startPipeline(c, b, o, initialState(c, o), false)}, nil
}

// Resume starts a stream that continues exactly after the batch whose State
// is st: the batches it returns are identical to those the original stream
// would have returned next. Workers, Prefetch and BatchSize may differ from
// the original run (batches are then cut differently from the same example
// sequence); the options that shape examples may not.
func Resume(c *corpus.Corpus, tok tokenizer.Tokenizer, opt Options, st State) (*Stream, error) {
	o, b, c, err := prepare(c, tok, opt)
	if err != nil {
		return nil, err
	}
	if err := st.compatible(c, o); err != nil {
		return nil, err
	}
	return &Stream{p: startPipeline(c, b, o, st, false)}, nil
}

func prepare(c *corpus.Corpus, tok tokenizer.Tokenizer, opt Options) (Options, *builder, *corpus.Corpus, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return o, nil, nil, err
	}
	if c == nil {
		return o, nil, nil, errors.New("pretrain: nil corpus")
	}
	b, err := newBuilder(tok, o)
	if err != nil {
		return o, nil, nil, err
	}
	return o, b, c.Split(o.Split), nil
}

// Next returns the next batch and the State after it: checkpoint that State
// together with the step that consumed the batch.
func (s *Stream) Next(ctx context.Context) (*fnet.Batch, State, error) {
	if s.closed.Load() {
		return nil, State{}, ErrClosed
	}
	if s.err != nil {
		return nil, State{}, s.err
	}
	t0 := time.Now()
	s.first.CompareAndSwap(0, t0.UnixNano())
	var it item
	var ok bool
	select {
	case it, ok = <-s.p.out:
	case <-ctx.Done():
		s.blocked.Add(int64(time.Since(t0)))
		return nil, State{}, ctx.Err()
	}
	s.blocked.Add(int64(time.Since(t0)))
	switch {
	case !ok:
		s.err = ErrClosed
	case it.err != nil:
		s.err = it.err
	default:
		return it.batch, it.state, nil
	}
	return nil, State{}, s.err
}

// WaitShare is the fraction of wall time since the first Next call that the
// consumer spent blocked in Next waiting for data (0 before any call). A
// trainer that never waits on data sees a value near 0.
func (s *Stream) WaitShare() float64 {
	blocked, elapsed := s.WaitTime()
	if elapsed <= 0 {
		return 0
	}
	return min(1, float64(blocked)/float64(elapsed))
}

// WaitTime is the time spent blocked in Next and the wall time since the
// first Next call; differences of two readings give the share over a window.
func (s *Stream) WaitTime() (blocked, elapsed time.Duration) {
	first := s.first.Load()
	if first == 0 {
		return 0, 0
	}
	return time.Duration(s.blocked.Load()), time.Since(time.Unix(0, first))
}

// Close stops the background goroutines and waits for them. Next returns
// ErrClosed afterwards. Close is idempotent.
func (s *Stream) Close() {
	s.closed.Store(true)
	s.once.Do(s.p.stop)
}
