// Package cuda is fnet-tui's NVIDIA GPU backend: an explicit forward and
// backward of FNet pretraining and finetuning (in the manner of llm.c) on
// one CUDA stream, implementing fnet.Engine.
//
// Nothing here is linked at build time. libcuda, cuBLAS, NVRTC and NVML are
// opened with purego when first needed, trying the library versions a
// machine may have, so the binary builds without cgo or CUDA headers and its
// tests run (and skip the GPU parts with the exact reason) on machines
// without a GPU. The kernels are CUDA C embedded in the binary and compiled
// by NVRTC for the device's compute capability on first use, cached on disk
// per device, driver and source.
//
// See docs/GPU.md for the design, the reasons for not using gorgonia's CUDA
// engine or gorgonia.org/cu, and the measurements.
package cuda
