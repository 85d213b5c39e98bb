// Package dist is the host side of data-parallel training: which rank this
// process is (the launchers' environment contract, env.go), how the ranks
// agree on one NCCL id before NCCL exists between them (rendezvous over TCP
// or a shared file, rendezvous.go), which examples of every global batch a
// rank trains on (slice.go), the Collective the trainer averages
// gradients and sums metrics through (collective.go), and the local
// launcher of `--gpus N`, which starts N ranks with torchrun's variables
// (launch.go). See docs/SCALING.md.
//
// Nothing here needs a GPU: NCCL itself is bound at run time by package
// cuda (cuda/nccl.go).
package dist
