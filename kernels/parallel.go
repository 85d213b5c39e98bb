package kernels

import (
	"runtime"
	"sync"
)

// Workers is how many goroutines the element-wise kernels split work over.
// It defaults to GOMAXPROCS and may be lowered (never raised past it) to
// share the machine.
var Workers = runtime.GOMAXPROCS(0)

// ParallelFor calls body on disjoint [lo, hi) chunks covering [0, n). Work
// smaller than grain items per worker runs on the calling goroutine, where
// spawning would cost more than it saves. Chunk boundaries depend only on n,
// grain and Workers, so results are deterministic for a given thread count.
func ParallelFor(n, grain int, body func(lo, hi int)) {
	ParallelForWorker(n, grain, func(_, lo, hi int) { body(lo, hi) })
}

// ParallelForWorker is ParallelFor that also passes the chunk's worker index
// (0 ≤ worker < Workers), for per-worker scratch buffers. It returns how many
// chunks ran (workers 0..chunks-1 were used).
func ParallelForWorker(n, grain int, body func(worker, lo, hi int)) (chunks int) {
	w := Workers
	if w < 1 {
		w = 1
	}
	if grain < 1 {
		grain = 1
	}
	if max := n / grain; w > max {
		w = max
	}
	if w <= 1 {
		if n > 0 {
			body(0, 0, n)
			return 1
		}
		return 0
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	worker := 1
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			body(worker, lo, hi)
		}(worker)
		worker++
	}
	body(0, 0, min(chunk, n))
	wg.Wait()
	return worker
}
