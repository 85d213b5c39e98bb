#!/usr/bin/env python3
"""Time Hugging Face FNetForPreTraining training steps on the GPU: the peer
for fnet-tui's CUDA engine (docs/GPU.md).

FNet-Base (HF FNetConfig defaults), sequence 512, bf16 autocast with the
Fourier transform forced to float32 (cuFFT cannot do half precision at
hidden 768, and the mixing needs float32 anyway), fused AdamW, MLM labels on
K positions per sequence (-100 elsewhere, as HF's loss wants) plus the NSP
label. HF's head computes logits at every position; the FLOP count used for
MFU is the reference's flops_estimate with the masked head (the same
numerator as fnet-tui's), so the MFU ratio equals the tokens/s ratio.

Prints one RESULT_JSON line.
"""
import argparse
import json
import math
import statistics
import sys
import time


def flops_estimate(B, S, K, H=768, F=3072, L=12, V=32000):
    """../shared/ref/fnet_ref.py flops_estimate, train mode, masked head."""
    T = B * S
    M = B * min(K, S)
    per_tok_w = L * 2 * H * F + H * H
    dense = 2 * T * per_tok_w
    head = 2 * M * (H * H + V * H)
    mix = L * B * 2.5 * S * H * math.log2(S * H)
    return 3 * dense + 3 * head + 2 * mix


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--masked", type=int, default=80)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak assumed for MFU (H100 SXM)")
    a = p.parse_args()

    import torch
    import transformers
    from transformers import FNetConfig, FNetForPreTraining

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = torch.device("cuda")
    cfg = FNetConfig()  # FNet-Base: V32000 H768 L12 F3072, max_position_embeddings 512
    cfg.hidden_dropout_prob = 0.1
    model = FNetForPreTraining(cfg).to(dev)
    model.train()

    # Force the FFT to float32 (under autocast the LayerNorm output is
    # float32 already; this makes it explicit and independent of autocast's
    # op lists).
    n_fft = 0
    for m in model.modules():
        if hasattr(m, "fourier_transform"):
            m.fourier_transform = lambda x: torch.fft.fftn(x.float(), dim=(1, 2))
            n_fft += 1
    assert n_fft == cfg.num_hidden_layers, f"patched {n_fft} Fourier layers"

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, eps=1e-6, fused=True)
    B, S, K = a.batch, a.seq, a.masked
    g = torch.Generator(device="cpu").manual_seed(0)

    def make_batch():
        ids = torch.randint(6, cfg.vocab_size, (B, S), generator=g)
        tt = torch.zeros(B, S, dtype=torch.long)
        tt[:, S // 2:] = 1
        labels = torch.full((B, S), -100, dtype=torch.long)
        for b in range(B):
            pos = torch.randperm(S - 2, generator=g)[:K] + 1
            labels[b, pos] = ids[b, pos]
            ids[b, pos] = 4
        nsp = torch.randint(0, 2, (B,), generator=g)
        return [t.to(dev) for t in (ids, tt, labels, nsp)]

    batches = [make_batch() for _ in range(4)]

    def step(i):
        ids, tt, labels, nsp = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(input_ids=ids, token_type_ids=tt, labels=labels, next_sentence_label=nsp)
        out.loss.backward()
        opt.step()
        return out.loss

    times, losses = [], []
    for i in range(a.warmup + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step(i)
        lv = float(loss)  # a host read per step, as fnet-tui's loss/grad-norm read
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        losses.append(lv)
        if i >= a.warmup:
            times.append(dt)
    med = statistics.median(times)
    fl = flops_estimate(B, S, K)
    res = {
        "what": "huggingface FNetForPreTraining train step",
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "precision": "bf16 autocast, fft fp32",
        "batch": B, "seq": S, "masked": K,
        "step_ms_median": med * 1e3,
        "step_ms_min": min(times) * 1e3,
        "tokens_per_s": B * S / med,
        "model_tflop_per_step": fl / 1e12,
        "model_tflops_achieved": fl / med / 1e12,
        "peak_tflops_assumed": a.peak_tflops,
        "mfu": fl / med / 1e12 / a.peak_tflops,
        "gpu_mem_max_gib": torch.cuda.max_memory_allocated() / 2**30,
        "first_loss": losses[0], "last_loss": losses[-1],
    }
    print("RESULT_JSON " + json.dumps(res), flush=True)
    print(f"HF FNetForPreTraining B={B} S={S}: {med*1e3:.1f} ms/step, {B*S/med:.0f} tokens/s, "
          f"MFU {100*res['mfu']:.1f}% of {a.peak_tflops} TFLOP/s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
