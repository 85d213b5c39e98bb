#!/usr/bin/env python3
"""fnet-tui <-> Hugging Face transformers, checked live (issue 15, point 3;
docs/INTEROP.md). scripts/gpu/interop.sh runs it on the device machine,
which has torch and transformers, against what `interop.sh prepare` made on
a machine with Go (--work: exports/<name>/ written by `fnet-tui export --hf`,
refs/<name>.safetensors written by `fnet-tui export --logits`, the inputs
sentences.txt and pairs.txt), with fnet-tui's binary (--bin) for the
other direction.

(a) export -> transformers: each export loads with its config's class with
    no missing, unexpected or mismatched keys, and save_pretrained of the
    loaded model writes exactly the keys the export has; transformers'
    tokenizer (slow and fast) gives our token ids on the real sentences;
    the masked-LM (or classifier) logits on our ids equal ours within
    --rtol (max |diff| / max |ours|, float32, TF32 off).
(b) transformers -> fnet-tui: small randomly initialised FNetForPreTraining
    and BertForPreTraining (every parameter perturbed, so no bias is zero
    and no LayerNorm is 1) saved with save_pretrained(safe_serialization=True)
    and the tokenizer's save_pretrained load in fnet-tui, whose ids and
    logits (`fnet-tui export --logits`) equal transformers'; fnet-tui's
    re-export of them loads back bit for bit.
(c) classification both ways: our finetuned FNet classifier export, saved
    again by transformers, gives the same logits in fnet-tui; random
    FNetForSequenceClassification / BertForSequenceClassification too.

One JSON line per check goes to OUT/interop.jsonl, a PASS/FAIL line to
stdout; OUT/fixtures.tar.gz holds the folders transformers wrote in (b)
and (c) (small: to commit as test fixtures). Exit status 1 if a check failed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import traceback

FAILED = []


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True, help="what interop.sh prepare made")
    p.add_argument("--bin", required=True, help="the fnet-tui binary")
    p.add_argument("--out", required=True)
    p.add_argument("--tmp", default="/tmp/fnet-interop")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--device", default="auto", help="torch device: auto, cuda or cpu")
    a = p.parse_args()

    import torch
    import transformers

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = a.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(a.out, exist_ok=True)
    shutil.rmtree(a.tmp, ignore_errors=True)
    os.makedirs(a.tmp)
    log = open(os.path.join(a.out, "interop.jsonl"), "w")
    ctx = Ctx(a, torch, transformers, dev, log)
    ctx.record("versions", True, torch=torch.__version__, transformers=transformers.__version__, device=dev,
               gpu=torch.cuda.get_device_name(0) if dev == "cuda" else "")

    for name in sorted(os.listdir(os.path.join(a.work, "exports"))):
        ctx.guard("a/" + name, lambda name=name: check_export(ctx, name))
    for fam in ("fnet", "bert"):
        ctx.guard("b/" + fam, lambda fam=fam: check_transformers_model(ctx, fam, "ForPreTraining"))
        ctx.guard("c/" + fam + "-classifier", lambda fam=fam: check_transformers_model(ctx, fam, "ForSequenceClassification"))
    if os.path.isdir(os.path.join(a.work, "exports", "fnet-rte")):
        ctx.guard("c/fnet-rte-resaved", lambda: check_resaved_classifier(ctx, "fnet-rte"))

    with tarfile.open(os.path.join(a.out, "fixtures.tar.gz"), "w:gz") as tf:
        for d in sorted(os.listdir(a.tmp)):
            if d.startswith("hf-"):
                tf.add(os.path.join(a.tmp, d), arcname=d)
    print(f"{len(FAILED)} failed: {', '.join(FAILED)}" if FAILED else "all checks passed")
    sys.exit(1 if FAILED else 0)


class Ctx:
    def __init__(self, a, torch, transformers, dev, log):
        self.a, self.torch, self.tr, self.dev, self.log = a, torch, transformers, dev, log

    def record(self, name, ok, **kw):
        line = {"check": name, "ok": bool(ok), **kw}
        self.log.write(json.dumps(line, default=str) + "\n")
        self.log.flush()
        if not ok:
            FAILED.append(name)
        extra = " ".join(f"{k}={v}" for k, v in kw.items() if k not in ("first_mismatch",))
        print(f"{'PASS' if ok else 'FAIL'} {name} {extra}", flush=True)
        if not ok and "first_mismatch" in kw:
            print("     first mismatch:", json.dumps(kw["first_mismatch"], default=str)[:2000], flush=True)

    def guard(self, name, fn):
        try:
            fn()
        except Exception as e:  # a check that crashes is a failed check, and the others still run
            self.record(name, False, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc()[-3000:])

    def fnet_tui(self, *args):
        r = subprocess.run([self.a.bin, *args], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"fnet-tui {' '.join(args)}: rc {r.returncode}: {r.stderr.strip()[-2000:]}")
        return r.stdout


def read_ref(torch, path):
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        return f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}


def inputs_of(work, ref_meta, name):
    """The lines the reference was made from: pairs for a classifier."""
    fn = "pairs.txt" if "classifier" in ref_meta.get("heads", "") else "sentences.txt"
    with open(os.path.join(work, fn), encoding="utf-8") as f:
        lines = [l.rstrip("\r\n") for l in f if l.strip()]
    return [tuple(l.split("\t", 1)) if "\t" in l else (l,) for l in lines]


def load_class(ctx, d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    cls = getattr(ctx.tr, cfg["architectures"][0])
    model, info = cls.from_pretrained(d, output_loading_info=True)
    return cfg, cls, model.to(ctx.dev).eval(), info


def loading_clean(info):
    return {k: list(v) for k, v in info.items() if v}


def compare_ids(ctx, name, tok, lines, ref, S):
    """transformers' tokenizer on the raw lines vs our ids (padded to S)."""
    torch = ctx.torch
    if len(lines[0]) == 2:
        enc = tok([l[0] for l in lines], [l[1] for l in lines], padding="max_length", max_length=S, return_token_type_ids=True)
    else:
        enc = tok([l[0] for l in lines], padding="max_length", max_length=S, return_token_type_ids=True)
    ours, our_types = ref["ids"].tolist(), ref["type_ids"].tolist()
    bad = []
    for r, (a, b) in enumerate(zip(enc["input_ids"], ours)):
        if a != b or enc["token_type_ids"][r] != our_types[r]:
            n = int(ref["lengths"][r])
            bad.append({"row": r, "text": lines[r], "transformers": a[: n + 4], "fnet_tui": b[: n + 4],
                        "transformers_pieces": tok.convert_ids_to_tokens(a[: n + 4])})
    ctx.record(name, not bad, tokenizer=type(tok).__name__, rows=len(ours), mismatched_rows=len(bad),
               first_mismatch=bad[0] if bad else None)


def hf_logits(ctx, model, ids, types, pad, bert):
    torch = ctx.torch
    kw = {"input_ids": ids.to(ctx.dev), "token_type_ids": types.to(ctx.dev)}
    if bert:
        kw["attention_mask"] = (ids != pad).long().to(ctx.dev)
    with torch.no_grad():
        out = model(**kw)
    lg = getattr(out, "prediction_logits", None)
    if lg is None:
        lg = out.logits
    return lg.float().cpu()


def compare_logits(ctx, name, model, ref, meta, bert):
    """transformers' logits on our inputs vs ours."""
    torch = ctx.torch
    pad = int(meta["pad_id"])
    checked = False
    if "mlm_logits" in ref:
        lg = hf_logits(ctx, model, ref["masked_ids"], ref["type_ids"], pad, bert)
        pos, ours = ref["mask_positions"], ref["mlm_logits"]
        theirs, mine = [], []
        for r in range(pos.shape[0]):
            for k in range(pos.shape[1]):
                if pos[r, k] >= 0:
                    theirs.append(lg[r, pos[r, k]])
                    mine.append(ours[r, k])
        theirs, mine = torch.stack(theirs), torch.stack(mine)
        rel = ((theirs - mine).abs().max() / mine.abs().max()).item()
        agree = (theirs.argmax(-1) == mine.argmax(-1)).float().mean().item()
        ctx.record(name + "/mlm-logits", rel <= ctx.a.rtol, rel_err=f"{rel:.3g}", positions=len(mine), argmax_agree=f"{agree:.4f}")
        checked = True
    if "cls_logits" in ref:
        lg = hf_logits(ctx, model, ref["ids"], ref["type_ids"], pad, bert)
        mine = ref["cls_logits"]
        rel = ((lg - mine).abs().max() / mine.abs().max()).item()
        ctx.record(name + "/cls-logits", rel <= ctx.a.rtol, rel_err=f"{rel:.3g}", rows=mine.shape[0])
        checked = True
    if not checked:
        ctx.record(name + "/logits", False, error="the reference holds no logits")


def tokenizers_of(ctx, d):
    """transformers' slow and fast tokenizers of a folder (a missing
    backend, e.g. no sentencepiece or protobuf, is a failed check)."""
    out = []
    for fast in (False, True):
        try:
            out.append(ctx.tr.AutoTokenizer.from_pretrained(d, use_fast=fast))
        except Exception as e:
            ctx.record(f"tokenizer-load {d} use_fast={fast}", False, error=f"{type(e).__name__}: {e}")
    return out


def check_export(ctx, name):
    """(a): an fnet-tui export in transformers."""
    a, torch = ctx.a, ctx.torch
    d = os.path.join(a.work, "exports", name)
    cfg, cls, model, info = load_class(ctx, d)
    bad = loading_clean(info)
    ctx.record(f"a/{name}/load", not bad, cls=cls.__name__, **({"loading_info": bad} if bad else {}))
    resaved = os.path.join(a.tmp, "resaved-" + name)
    save(model, resaved)
    from safetensors import safe_open

    with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
        ours = set(f.keys())
    with safe_open(os.path.join(resaved, "model.safetensors"), "pt") as f:
        theirs = set(f.keys())
    ctx.record(f"a/{name}/saved-keys", ours == theirs, keys=len(ours),
               only_ours=sorted(ours - theirs), only_transformers=sorted(theirs - ours))
    refp = os.path.join(a.work, "refs", name + ".safetensors")
    if not os.path.exists(refp):  # fnet-mlm: the pretraining run's reference (same encoder and MLM head)
        refp = os.path.join(a.work, "refs", name.removesuffix("-mlm") + ".safetensors")
    if not os.path.exists(refp):
        ctx.record(f"a/{name}/reference", False, error=f"no {refp}")
        return
    meta, ref = read_ref(torch, refp)
    S = int(meta["seq_len"])
    lines = inputs_of(a.work, meta, name)
    for tok in tokenizers_of(ctx, d):
        compare_ids(ctx, f"a/{name}/ids-{type(tok).__name__}", tok, lines, ref, S)
    compare_logits(ctx, f"a/{name}", model, ref, meta, cfg["model_type"] == "bert")


def save(model, d):
    """save_pretrained in safetensors (the keyword is the default, and may be gone, in newer transformers)."""
    try:
        model.save_pretrained(d, safe_serialization=True)
    except TypeError:
        model.save_pretrained(d)


def any_tokenizer(ctx, d):
    """The slow tokenizer (it writes spiece.model / vocab.txt), else the fast one."""
    try:
        return ctx.tr.AutoTokenizer.from_pretrained(d, use_fast=False)
    except Exception:
        return ctx.tr.AutoTokenizer.from_pretrained(d)


def randomize(torch, model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def check_transformers_model(ctx, fam, suffix):
    """(b)/(c): a random transformers model saved by transformers, in fnet-tui."""
    a, torch, tr = ctx.a, ctx.torch, ctx.tr
    src = os.path.join(a.work, "exports", fam)  # its tokenizer: SentencePiece for fnet, WordPiece for bert
    tok = any_tokenizer(ctx, src)
    common = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, intermediate_size=64,
                  max_position_embeddings=128, pad_token_id=tok.pad_token_id)
    if suffix == "ForSequenceClassification":
        common.update(num_labels=3)
    if fam == "fnet":
        cfg, prefix = tr.FNetConfig(type_vocab_size=4, **common), "FNet"
    else:
        cfg, prefix = tr.BertConfig(num_attention_heads=4, type_vocab_size=2, **common), "Bert"
    cls = getattr(tr, prefix + suffix)
    torch.manual_seed(1)
    model = cls(cfg).eval()
    randomize(torch, model, 2)
    d = os.path.join(a.tmp, f"hf-{fam}-{suffix.lower()}")
    save(model, d)
    tok.save_pretrained(d)
    vocab = "spiece.model" if fam == "fnet" else "vocab.txt"
    if not os.path.exists(os.path.join(d, vocab)):  # a tokenizers-only save: fnet-tui needs the slow file
        shutil.copy(os.path.join(src, vocab), d)
        ctx.record(f"note {d}", True, note=f"the tokenizer's save_pretrained wrote no {vocab}; copied it from {src}")
    model.to(ctx.dev)
    name = f"{'b' if suffix == 'ForPreTraining' else 'c'}/{fam}-{suffix}"
    inputs = os.path.join(a.work, "pairs.txt" if suffix == "ForSequenceClassification" else "sentences.txt")
    ours = os.path.join(a.tmp, f"ours-{fam}-{suffix}.safetensors")
    ctx.fnet_tui("export", "--logits", ours, "--text", inputs, d)
    meta, ref = read_ref(torch, ours)
    S = int(meta["seq_len"])
    with open(inputs, encoding="utf-8") as f:
        lines = [tuple(l.rstrip("\r\n").split("\t", 1)) for l in f if l.strip()]
    for t in tokenizers_of(ctx, d):
        compare_ids(ctx, f"{name}/ids-{type(t).__name__}", t, lines, ref, S)
    compare_logits(ctx, name, model, ref, meta, fam == "bert")
    # fnet-tui's export of what it imported loads back as the same tensors
    back = os.path.join(a.tmp, f"back-{fam}-{suffix}")
    ctx.fnet_tui("export", "--hf", back, d)
    m2, info = cls.from_pretrained(back, output_loading_info=True)
    bad = loading_clean(info)
    sd1, sd2 = model.state_dict(), m2.state_dict()
    diff = [k for k in sd1 if k not in sd2 or not torch.equal(sd1[k].cpu(), sd2[k].cpu())]
    ctx.record(f"{name}/re-export", not bad and not diff, tensors=len(sd1), differing=diff[:10],
               **({"loading_info": bad} if bad else {}))


def check_resaved_classifier(ctx, name):
    """(c): our finetuned classifier, loaded and saved again by transformers,
    reads back in fnet-tui with the same logits."""
    a, torch = ctx.a, ctx.torch
    cfg, cls, model, _ = load_class(ctx, os.path.join(a.work, "exports", name))
    d = os.path.join(a.tmp, "hf-resaved-" + name)
    save(model, d)
    tok = any_tokenizer(ctx, os.path.join(a.work, "exports", name))
    tok.save_pretrained(d)
    vocab = "spiece.model" if os.path.exists(os.path.join(a.work, "exports", name, "spiece.model")) else "vocab.txt"
    if not os.path.exists(os.path.join(d, vocab)):
        shutil.copy(os.path.join(a.work, "exports", name, vocab), d)
    ours = os.path.join(a.tmp, f"ours-resaved-{name}.safetensors")
    ctx.fnet_tui("export", "--logits", ours, "--text", os.path.join(a.work, "pairs.txt"), d)
    meta, ref = read_ref(torch, ours)
    compare_logits(ctx, f"c/{name}-resaved", model, ref, meta, cfg["model_type"] == "bert")
    _, first = read_ref(torch, os.path.join(a.work, "refs", name + ".safetensors"))
    same = torch.equal(first["cls_logits"], ref["cls_logits"])
    ctx.record(f"c/{name}-resaved/same-as-before", same,
               max_diff=f"{(first['cls_logits'] - ref['cls_logits']).abs().max().item():.3g}")


if __name__ == "__main__":
    main()
