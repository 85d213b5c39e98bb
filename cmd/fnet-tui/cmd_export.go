package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/hf"
	"github.com/fnet-tui/fnet-tui/safetensors"
	"github.com/fnet-tui/fnet-tui/tokenizer"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write a checkpoint as a Hugging Face transformers folder (--hf), or its logits on sentences (--logits)",
		usage: "--hf OUT_DIR [--class pretraining|mlm|classifier|model] [--force] CHECKPOINT\n" +
			"       fnet-tui export --logits OUT.safetensors --text SENTENCES.txt [--mask-every 4] [--device cpu|cuda|auto] CHECKPOINT",
		run: func(args []string) error { return runExport(args, os.Stdout, os.Stderr) },
	})
}

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export")
	hfOut := fs.String("hf", "", "write a transformers folder here (from_pretrained loads it)")
	class := fs.String("class", "", "transformers class: pretraining, mlm, classifier, model or a full name (default: the checkpoint's heads)")
	force := fs.Bool("force", false, "replace a non-empty --hf folder")
	logitsOut := fs.String("logits", "", "write the model's logits on --text's lines to this safetensors file (for comparisons with transformers)")
	text := fs.String("text", "", "--logits: one input per line (TAB between the two segments of a pair)")
	maskEvery := fs.Int("mask-every", 4, "--logits: mask every N-th token of each input (from the first after [CLS])")
	inference := inferenceFlags(fs, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one CHECKPOINT (a run directory, a checkpoint directory or a transformers folder), got %d arguments", len(pos))
	}
	if (*hfOut == "") == (*logitsOut == "") {
		return usagef("give exactly one of --hf OUT_DIR and --logits OUT.safetensors")
	}
	if *logitsOut != "" && *text == "" {
		return usagef("--logits needs --text SENTENCES.txt")
	}
	if *maskEvery < 1 {
		return usagef("--mask-every must be at least 1")
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	ck, err := train.LoadCheckpoint(pos[0])
	if err != nil {
		return err
	}
	if *logitsOut != "" {
		return exportLogits(*logitsOut, *text, *maskEvery, ck, inf, stdout)
	}
	src := hf.Source{Dir: ck.Dir, Model: ck.Model, Tokenizer: ck.Tokenizer}
	if ts := ck.Trainer; ts != nil {
		if ri := hf.ReadRun(ck.Dir, ts.Step); ri != nil {
			ri.Kind, ri.Task, ri.TotalSteps, ri.Tokens = ts.Kind, ts.Task, ts.TotalSteps, ts.Tokens
			ri.Elapsed = time.Duration(ts.ElapsedS * float64(time.Second))
			ri.Metric, ri.Score = ts.Metric, ts.Score
			src.Run = ri
		}
	}
	res, err := hf.Export(*hfOut, src, hf.Options{Class: *class, Force: *force})
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	fmt.Fprintf(stdout, "exported %s as %s to %s: %s\n", ck.Dir, res.Class.Name, res.Dir, strings.Join(res.Files, ", "))
	return nil
}

// exportLogits runs the checkpoint on each line of textPath and writes
// what transformers has to reproduce: the token ids our tokenizer gives
// (ids, type_ids, lengths), and for a masked-LM model the ids with every
// maskEvery-th token masked (masked_ids), the masked positions
// (mask_positions, -1 past a row's last) and the logits there
// (mlm_logits [N, K, V]); for a classifier its logits on ids (cls_logits
// [N, labels]). Rows are padded to the model's seq_len with its pad id.
func exportLogits(out, textPath string, maskEvery int, ck *train.Checkpoint, inf train.Inference, stdout io.Writer) error {
	m := ck.Model
	if ck.Tokenizer == nil {
		return fmt.Errorf("%s has no tokenizer", ck.Dir)
	}
	if !m.Heads.MLM && !m.Heads.Classifier {
		return fmt.Errorf("%s has neither a masked-LM head nor a classifier (heads: %s): no logits to write", ck.Dir, m.Heads)
	}
	tok, cfg := ck.Tokenizer, m.Config
	cfg.DropoutProb = 0
	lines, err := readInputs(textPath)
	if err != nil {
		return err
	}
	S, N, sp := cfg.SeqLen, len(lines), tok.Special()
	if sp.CLS < 0 || sp.SEP < 0 || sp.Pad < 0 {
		return fmt.Errorf("%s: the tokenizer has no [CLS], [SEP] or pad piece", ck.Dir)
	}
	ids, types, lengths := make([]int, N*S), make([]int, N*S), make([]int, N)
	for i := range ids {
		ids[i] = sp.Pad
	}
	for r, line := range lines {
		row, tt := encodeInput(tok, line)
		if len(row) > S {
			return fmt.Errorf("%s:%d: %d tokens with [CLS] and [SEP]; this model takes %d", textPath, r+1, len(row), S)
		}
		copy(ids[r*S:], row)
		copy(types[r*S:], tt)
		lengths[r] = len(row)
	}
	entries := []safetensors.Entry{
		{Name: "ids", Shape: []int{N, S}, Int: ids},
		{Name: "type_ids", Shape: []int{N, S}, Int: types},
		{Name: "lengths", Shape: []int{N}, Int: lengths},
	}
	meta := map[string]string{"checkpoint": ck.Dir, "model_type": cfg.HFModelType(), "seq_len": strconv.Itoa(S),
		"pad_id": strconv.Itoa(sp.Pad), "mask_id": strconv.Itoa(sp.Mask), "tokenizer": tok.Kind(), "heads": m.Heads.String()}
	if m.Heads.MLM {
		if sp.Mask < 0 {
			return fmt.Errorf("%s: the tokenizer has no [MASK] piece", ck.Dir)
		}
		masked := append([]int(nil), ids...)
		var perRow [][]int
		K := 1
		for r := range lines {
			var p []int
			for j := 1; j < lengths[r]-1; j += maskEvery {
				if ids[r*S+j] != sp.SEP { // not the separator of a pair
					p = append(p, j)
				}
			}
			if len(p) == 0 {
				p = []int{0}
			}
			for _, j := range p {
				masked[r*S+j] = sp.Mask
			}
			perRow = append(perRow, p)
			K = max(K, len(p))
		}
		b := &fnet.Batch{B: N, S: S, K: K, InputIDs: masked, TypeIDs: types, MaskedPos: make([]int, N*K), MaskedLabels: make([]int, N*K), MaskedWeight: make([]float32, N*K)}
		positions := make([]int, N*K)
		for r, p := range perRow {
			for k := range K {
				positions[r*K+k] = -1
				if k < len(p) {
					positions[r*K+k], b.MaskedPos[r*K+k], b.MaskedWeight[r*K+k] = p[k], p[k], 1
					b.MaskedLabels[r*K+k] = ids[r*S+p[k]]
				}
			}
		}
		eng, err := inf.Engine(cfg, fnet.MaskedLMHeads, m.Params)
		if err != nil {
			return fmt.Errorf("%s: %w", ck.Dir, err)
		}
		logits, err := eng.MaskedLMLogits(b)
		eng.Close()
		if err != nil {
			return err
		}
		V := cfg.VocabSize
		for i, p := range positions {
			if p < 0 {
				clear(logits[i*V : (i+1)*V])
			}
		}
		entries = append(entries,
			safetensors.Entry{Name: "masked_ids", Shape: []int{N, S}, Int: masked},
			safetensors.Entry{Name: "mask_positions", Shape: []int{N, K}, Int: positions},
			safetensors.Entry{Name: "mlm_logits", Shape: []int{N, K, V}, F32: logits})
	}
	if m.Heads.Classifier {
		C := cfg.ClassifierOutputs()
		b := &fnet.Batch{B: N, S: S, InputIDs: ids, TypeIDs: types, Labels: make([]int, N)}
		if C == 1 {
			b.Labels, b.Targets = nil, make([]float32, N)
		}
		eng, err := inf.Engine(cfg, fnet.ClassifierHeads, m.Params)
		if err != nil {
			return fmt.Errorf("%s: %w", ck.Dir, err)
		}
		_, logits, err := eng.Evaluate(b)
		eng.Close()
		if err != nil {
			return err
		}
		entries = append(entries, safetensors.Entry{Name: "cls_logits", Shape: []int{N, C}, F32: logits})
	}
	if err := safetensors.WriteFile(out, entries, meta); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the logits of %s on %d inputs (%s, seq_len %d) to %s\n", ck.Dir, N, m.Heads, S, out)
	return nil
}

// readInputs reads the non-empty lines of a text file.
func readInputs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no inputs", path)
	}
	return lines, nil
}

// encodeInput is [CLS] A [SEP] (B [SEP]) with token types 0 and 1, as the
// transformers tokenizers build a pair.
func encodeInput(tok tokenizer.Tokenizer, line string) (ids, types []int) {
	sp := tok.Special()
	a, b, pair := strings.Cut(line, "\t")
	ids = append(append([]int{sp.CLS}, tok.Encode(a)...), sp.SEP)
	types = make([]int, len(ids))
	if pair {
		rest := append(tok.Encode(b), sp.SEP)
		ids = append(ids, rest...)
		for range rest {
			types = append(types, 1)
		}
	}
	return ids, types
}
