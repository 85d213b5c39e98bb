package cuda

import "fmt"

// memAlign is the alignment of every buffer carved from an arena: cuBLAS's
// tensor-core paths want 16-byte aligned operands; 256 also keeps each
// buffer on its own cache lines.
const memAlign = 256

// memPlan lays buffers out in one device allocation, so a step allocates
// nothing and a model's memory need is known before anything is allocated.
type memPlan struct {
	total uint64
	items []planItem
}

type planItem struct {
	name   string
	offset uint64
	bytes  uint64
	dst    *DevPtr
}

// add reserves bytes for the buffer whose address will be stored in *dst.
func (p *memPlan) add(name string, dst *DevPtr, bytes uint64) {
	off := (p.total + memAlign - 1) / memAlign * memAlign
	p.items = append(p.items, planItem{name: name, offset: off, bytes: bytes, dst: dst})
	p.total = off + bytes
}

// bind stores base+offset in every planned buffer's destination.
func (p *memPlan) bind(base DevPtr) {
	for _, it := range p.items {
		*it.dst = base + DevPtr(it.offset)
	}
}

// size is the bytes the arena needs.
func (p *memPlan) size() uint64 {
	return (p.total + memAlign - 1) / memAlign * memAlign
}

func (p *memPlan) String() string {
	return fmt.Sprintf("%d buffers, %.1f MiB", len(p.items), float64(p.size())/(1<<20))
}

// alignElems rounds n up to a multiple of the elements in memAlign bytes of
// float32 (64), so parameters in the flat buffers stay aligned in both the
// float32 and the bf16 copy.
func alignElems(n int) int {
	const a = memAlign / 4
	return (n + a - 1) / a * a
}
