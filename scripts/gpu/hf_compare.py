#!/usr/bin/env python3
"""The Hugging Face side of the paper's speed/memory-by-length table on a
GPU (scripts/gpu/compare-archs.sh runs fnet-tui's side in the same run):
FNetForPreTraining and BertForPreTraining (attn_implementation="sdpa"),
base sizes, bf16 autocast, fused AdamW, batch = tokens-per-step / length,
K = 15% masked positions per sequence (-100 elsewhere) plus the NSP label.

BERT runs twice per length: unpadded (no attention mask, so SDPA may take
its flash path) and padded (the last eighth of every row is padding with an
attention mask, which SDPA's flash kernel refuses; the memory-efficient one
runs). FNet has no attention mask. A cell that runs out of memory prints
"oom": true. One JSON line per cell, with the fields fnet-tui bench --json
prints (arch, seq, batch, ms_per_step, tokens_per_s, peak_mem_bytes).
"""
import argparse
import json
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="fnet,bert,bert-padded")
    p.add_argument("--seq", default="512,1024,2048,4096,8192")
    p.add_argument("--tokens-per-step", type=int, default=65536)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()

    import torch
    import transformers
    from transformers import BertConfig, BertForPreTraining, FNetConfig, FNetForPreTraining

    torch.backends.cuda.matmul.allow_tf32 = True
    dev = torch.device("cuda")
    seqs = [int(s) for s in a.seq.split(",")]
    for name in a.models.split(","):
        for S in seqs:
            B = max(1, a.tokens_per_step // S)
            K = max(1, round(0.15 * S))
            cell = {"arch": "hf-" + name, "seq": S, "batch": B, "device": torch.cuda.get_device_name(0),
                    "torch": torch.__version__, "transformers": transformers.__version__}
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            model = opt = None
            try:
                if name == "fnet":
                    cfg = FNetConfig(max_position_embeddings=max(512, S))
                    model = FNetForPreTraining(cfg)
                    for m in model.modules():  # cuFFT has no bf16 at these sizes: the FFT in float32
                        if hasattr(m, "fourier_transform"):
                            m.fourier_transform = lambda x: torch.fft.fftn(x.float(), dim=(1, 2))
                else:
                    cfg = BertConfig(max_position_embeddings=max(512, S), vocab_size=32000)
                    model = BertForPreTraining._from_config(cfg, attn_implementation="sdpa")
                model.to(dev).train()
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, eps=1e-6, fused=True)
                g = torch.Generator(device="cpu").manual_seed(0)
                ids = torch.randint(6, cfg.vocab_size, (B, S), generator=g)
                tt = torch.zeros(B, S, dtype=torch.long)
                tt[:, S // 2:] = 1
                labels = torch.full((B, S), -100, dtype=torch.long)
                for b in range(B):
                    pos = torch.randperm(S - 2, generator=g)[:K] + 1
                    labels[b, pos] = ids[b, pos]
                    ids[b, pos] = 4
                mask = None
                if name == "bert-padded":
                    mask = torch.ones(B, S, dtype=torch.long)
                    mask[:, S - S // 8:] = 0
                    labels[:, S - S // 8:] = -100
                nsp = torch.randint(0, 2, (B,), generator=g)
                ids, tt, labels, nsp = (t.to(dev) for t in (ids, tt, labels, nsp))
                if mask is not None:
                    mask = mask.to(dev)
                kw = {"attention_mask": mask} if name != "fnet" else {}
                times = []
                for i in range(a.warmup + a.steps):
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        out = model(input_ids=ids, token_type_ids=tt, labels=labels, next_sentence_label=nsp, **kw)
                    out.loss.backward()
                    opt.step()
                    float(out.loss)
                    torch.cuda.synchronize()
                    if i >= a.warmup:
                        times.append(time.perf_counter() - t0)
                med = statistics.median(times)
                cell.update({"ms_per_step": med * 1e3, "tokens_per_s": B * S / med,
                             "peak_mem_bytes": torch.cuda.max_memory_allocated()})
            except torch.cuda.OutOfMemoryError:
                cell["oom"] = True
            finally:
                del model, opt
            print(json.dumps(cell), flush=True)


if __name__ == "__main__":
    sys.exit(main())
