package fnet

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The model's graph is built from coarse custom operators (op_*.go), each
// calling the kernels package. A customOp is one node's operator: its
// closures own the node's output buffer and whatever it saves for the
// backward pass, so a training step allocates nothing after the first run.
//
// Memory rule: an op never relies on a tensor it does not own unless that
// tensor is one of its graph inputs. gorgonia's register allocator may let a
// built-in op (the ReduceAdd that sums gradients of a node used twice)
// overwrite a dead register in place; liveness only covers graph edges, so
// every forward value a backward op reads is passed to it as an input.
type customOp struct {
	name    string
	id      int64
	arity   int
	typ     hm.Type
	shape   tensor.Shape // output shape, known when the graph is built
	diffWRT []bool
	do      func(in []G.Value) (G.Value, error)
	symDiff func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error)
}

var opSerial atomic.Int64

func newOp(name string, typ hm.Type, shape tensor.Shape, diffWRT []bool) *customOp {
	return &customOp{name: name, id: opSerial.Add(1), arity: len(diffWRT), typ: typ, shape: shape, diffWRT: diffWRT}
}

func (o *customOp) Arity() int     { return o.arity }
func (o *customOp) Type() hm.Type  { return o.typ }
func (o *customOp) String() string { return fmt.Sprintf("%s#%d", o.name, o.id) }
func (o *customOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return o.shape.Clone(), nil
}
func (o *customOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != o.arity {
		return nil, fmt.Errorf("%s: %d inputs, want %d", o, len(in), o.arity)
	}
	if opProfile == nil {
		return o.do(in)
	}
	t0 := time.Now()
	v, err := o.do(in)
	opProfile.add(o.name, time.Since(t0))
	return v, err
}

// opProfile, when set, accumulates the wall time of each operator kind
// (fnet-tui bench --ops); nil costs one comparison per node.
var opProfile *opTimes

type opTimes struct {
	mu sync.Mutex
	d  map[string]time.Duration
	n  map[string]int
}

func (t *opTimes) add(name string, d time.Duration) {
	t.mu.Lock()
	t.d[name] += d
	t.n[name]++
	t.mu.Unlock()
}

// ProfileOps starts (on) or stops timing operators by kind.
func ProfileOps(on bool) {
	if on {
		opProfile = &opTimes{d: map[string]time.Duration{}, n: map[string]int{}}
	} else {
		opProfile = nil
	}
}

// OpTime is the time spent in one operator kind.
type OpTime struct {
	Op    string        `json:"op"`
	Total time.Duration `json:"total_ns"`
	Calls int           `json:"calls"`
}

// OpProfile returns the times collected since ProfileOps(true), largest first.
func OpProfile() []OpTime {
	if opProfile == nil {
		return nil
	}
	opProfile.mu.Lock()
	defer opProfile.mu.Unlock()
	out := make([]OpTime, 0, len(opProfile.d))
	for k, d := range opProfile.d {
		out = append(out, OpTime{Op: k, Total: d, Calls: opProfile.n[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}
func (o *customOp) ReturnsPtr() bool      { return false } // own register: never shared
func (o *customOp) CallsExtern() bool     { return false }
func (o *customOp) OverwritesInput() int  { return -1 }
func (o *customOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o *customOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *customOp) DiffWRT(int) []bool { return o.diffWRT }
func (o *customOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.symDiff == nil {
		return nil, fmt.Errorf("%s is not differentiable", o)
	}
	return o.symDiff(inputs, output, grad)
}

// Types used in op signatures.
var (
	f32Vec = G.TensorType{Dims: 1, Of: tensor.Float32}
	f32Mat = G.TensorType{Dims: 2, Of: tensor.Float32}
	intVec = G.TensorType{Dims: 1, Of: tensor.Int}
	f32    = tensor.Float32
)

func fnType(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

// apply adds an op node to the graph.
func apply(o *customOp, inputs ...*G.Node) *G.Node {
	n, err := G.ApplyOp(o, inputs...)
	if err != nil {
		panic(fmt.Sprintf("fnet: building %s: %v", o, err))
	}
	return n
}

// f32s returns the float32 data of a value (a tensor or a scalar).
func f32s(v G.Value) []float32 {
	switch t := v.(type) {
	case *tensor.Dense:
		return t.Data().([]float32)
	case *G.F32:
		return []float32{float32(*t)}
	}
	panic(fmt.Sprintf("fnet: expected float32 data, got %T", v))
}

// ints returns the int data of a tensor value.
func ints(v G.Value) []int {
	return v.(*tensor.Dense).Data().([]int)
}

// scalarOf reads a float32 scalar value (the gradient seed is a constant).
func scalarOf(v G.Value) float32 {
	return f32s(v)[0]
}

// owned is an op's output buffer wrapped as a tensor once.
type owned struct {
	data []float32
	t    *tensor.Dense
}

func newOwned(shape ...int) *owned {
	n := NumElements(shape)
	d := make([]float32, n)
	return &owned{data: d, t: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))}
}

// ownedScalar is a scalar output.
type ownedScalar struct{ v G.F32 }

func (s *ownedScalar) set(x float32) G.Value { s.v = G.F32(x); return &s.v }
