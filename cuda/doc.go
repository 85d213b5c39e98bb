// Package cuda is fnet-tui's NVIDIA GPU backend: an explicit forward and
// backward of FNet pretraining and finetuning (in the manner of llm.c) on
// one CUDA stream, implementing fnet.Engine, for every architecture the
// CPU engine builds (fnet, bert, linear, random, ff_only and attention
// hybrids: each layer's mixing through one seam, layer_mix.go).
//
// Nothing here is linked at build time. libcuda, cuBLAS, NVRTC and NVML are
// opened with purego when first needed, trying the library versions a
// machine may have, so the binary builds without cgo or CUDA headers and its
// tests run (and skip the GPU parts with the exact reason) on machines
// without a GPU. The kernels are CUDA C embedded in the binary and compiled
// by NVRTC for the device's compute capability on first use, cached on disk
// per device, driver and source.
//
// Files, by concern (llm.c style: each layer's forward beside its backward):
//
//	engine.go           the Engine: set-up, parameters and optimizer state in and out
//	engine_api.go       ForwardBackward, Evaluate, MaskedLMLogits, HiddenStates
//	optimizer.go        Step: gradient norm, clipping and AdamW on the device
//	pass.go             one run over a batch: which heads run, upload, loss sums read back
//	model.go            forward and backward as sequences of the layers below
//	layer_embed.go      embeddings (gather + LayerNorm, projection (not bert), dropout)
//	layer_mix.go        the token-mixing sublayer, the seam each mixing kind plugs into
//	mix_fourier.go      Fourier mixing as DFT GEMMs (tables.go: the DFT tables)
//	mix_attention.go    self-attention: q/k/v/o linear layers, strided-batched score and context GEMMs, the masked softmax
//	mix_linear.go       linear and random mixing (seq·x·hidden; random's matrices fixed)
//	mix_identity.go     FF-only (no mixing)
//	layer_ffn.go        the feed-forward sublayer
//	layer_layernorm.go  LayerNorm with fused residual, bias and dropout
//	heads.go            masked-LM head; pooler + next-sentence/classifier head
//	colsum.go           column sums (bias and γ/β gradients)
//	gemm.go             GEMMs and linear layers on the engine's cuBLAS handle
//	activations.go      the activation buffers, named with their shapes, and their plan
//	memops.go           the stream's memory operations (on the device, or in a dry run)
//	dryrun.go           the dry run: a host-only stand-in for the device, for tests
//	                    (emulator_test.go carries its operations out on the host)
//	kernels/fnet.cu     the kernels of the default step (signature.go checks each launch against the sources)
//	kernels/ffn.cu, layernorm.cu, optimizer.cu
//	                    the optional fused paths (fusion.go: Options.Fuse, FNET_CUDA_FUSE)
//	cublaslt.go         cuBLASLt for the FFN's GELU epilogues (the "epilogue" fused path)
//	nccl.go             NCCL bindings (communicators, all-reduce, async errors)
//	nccl_collective.go  JoinNCCL and the NCCL-backed dist.Collective
//	grad_average.go     the data-parallel gradient average on the device, overlapped with the backward
//
// See docs/GPU.md for the design, the reasons for not using gorgonia's CUDA
// engine or gorgonia.org/cu, and the measurements.
package cuda
