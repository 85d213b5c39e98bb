package main

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// tokenizerSubs is the tokenizer's table of subcommands, in help order.
var tokenizerSubs = []subcommand{
	{"train", "train a SentencePiece BPE vocabulary on a corpus",
		"--corpus SPEC --vocab-size N -o tok.model [--max-sentences N] [--seed S] [--character-coverage 0.9995]"},
	{"encode", "stdin lines -> token ids (or pieces) per line", "--model PATH [--pieces]"},
	{"decode", "stdin lines of token ids -> text", "--model PATH"},
	{"info", "the tokenizer's kind, size and special pieces", "--model PATH"},
}

func init() {
	usage := tokenizerSubs[0].name + " " + tokenizerSubs[0].usage
	for _, s := range tokenizerSubs[1:] {
		usage += "\n       fnet-tui tokenizer " + s.name + " " + s.usage
	}
	register(&command{
		name:    "tokenizer",
		summary: "train a SentencePiece BPE vocabulary; encode/decode text with a .model or vocab.txt",
		usage:   usage,
		run:     runTokenizer,
		subs:    func() []subcommand { return tokenizerSubs },
	})
}

func runTokenizer(args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: train, encode, decode or info")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "train":
		return tokenizerTrain(rest)
	case "encode", "decode", "info":
		return tokenizerUse(sub, rest)
	case "-h", "--help", "help":
		printCommandHelp(stdoutWriter(), "tokenizer", nil)
		fmt.Fprintln(stdoutWriter(), "\nRun 'fnet-tui tokenizer SUBCOMMAND -h' for its flags.")
		return errHelpShown
	default:
		return usagef("unknown subcommand %q (want train, encode, decode or info)", sub)
	}
}

func tokenizerTrain(args []string) error {
	fs := newFlags("tokenizer train")
	spec := fs.String("corpus", "", "corpus: a text/JSONL(.gz) file or folder, or \"gostd\"")
	vocab := fs.Int("vocab-size", 0, "number of pieces, the 7 reserved ones included (FNet uses 32000)")
	out := fs.String("o", "", "output .model file")
	maxSent := fs.Int("max-sentences", 0, "train on a uniform sample of at most N sentences (0 = all)")
	seed := fs.Uint64("seed", 0, "seed of the --max-sentences sample")
	coverage := fs.Float64("character-coverage", 0.9995, "share of character occurrences the vocabulary must cover")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef("unexpected argument %q", rest[0])
	case *spec == "":
		return usagef("--corpus is required")
	case *out == "":
		return usagef("-o is required")
	case *vocab <= tokenizer.NumReserved:
		return usagef("--vocab-size must be more than %d, got %d", tokenizer.NumReserved, *vocab)
	case *maxSent < 0:
		return usagef("--max-sentences must not be negative, got %d", *maxSent)
	case *coverage <= 0 || *coverage > 1:
		return usagef("--character-coverage must be in (0, 1], got %g", *coverage)
	}
	c, err := corpus.Open(*spec)
	if err != nil {
		return err
	}
	start := time.Now()
	var readErr error
	sentences := firstError(c.Sentences(), &readErr)
	tok, err := tokenizer.TrainBPE(sentences, tokenizer.TrainOptions{
		VocabSize: *vocab, MaxSentences: *maxSent, Seed: *seed, CharacterCoverage: *coverage,
		Progress: func(stage string, done, total int) {
			if stage == "read" {
				fmt.Fprintf(os.Stderr, "read %d sentences (%.0fs)\n", done, time.Since(start).Seconds())
			} else {
				fmt.Fprintf(os.Stderr, "merged %d/%d pieces (%.0fs)\n", done, total, time.Since(start).Seconds())
			}
		},
	})
	if readErr != nil {
		return fmt.Errorf("corpus %s: %w", *spec, readErr)
	}
	if err != nil {
		return err
	}
	if err := tokenizer.WriteFile(tok, *out); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s, trained in %.1fs\n", *out, tok, time.Since(start).Seconds())
	return nil
}

// firstError adapts a corpus stream to the trainer's iterator, stopping at
// the first read error and keeping it for the caller.
func firstError(seq iter.Seq2[string, error], errp *error) iter.Seq[string] {
	return func(yield func(string) bool) {
		for s, err := range seq {
			if err != nil {
				*errp = err
				return
			}
			if !yield(s) {
				return
			}
		}
	}
}

func tokenizerUse(sub string, args []string) error {
	fs := newFlags("tokenizer " + sub)
	model := fs.String("model", "", "tokenizer file: SentencePiece .model or WordPiece vocab.txt")
	asPieces := fs.Bool("pieces", false, "encode: print pieces instead of ids")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if *model == "" {
		return usagef("--model is required")
	}
	tok, err := tokenizer.Load(*model)
	if err != nil {
		return err
	}
	switch sub {
	case "encode":
		return encodeLines(tok, os.Stdin, os.Stdout, *asPieces)
	case "decode":
		return decodeLines(tok, os.Stdin, os.Stdout)
	default:
		return writeTokenizerInfo(tok, os.Stdout)
	}
}

// eachLine calls fn for every line of in (without its newline), flushing
// out whenever no more input is buffered so interactive use answers at once.
func eachLine(in io.Reader, out io.Writer, fn func(w *bufio.Writer, line string) error) error {
	r := bufio.NewReaderSize(in, 1<<16)
	w := bufio.NewWriterSize(out, 1<<16)
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if len(line) > 0 {
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if ferr := fn(w, line); ferr != nil {
				w.Flush()
				return fmt.Errorf("stdin line %d: %w", n, ferr)
			}
			if r.Buffered() == 0 {
				if ferr := w.Flush(); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return w.Flush()
		}
		if err != nil {
			w.Flush()
			return fmt.Errorf("stdin: %w", err)
		}
	}
}

func encodeLines(tok tokenizer.Tokenizer, in io.Reader, out io.Writer, asPieces bool) error {
	var buf []byte
	return eachLine(in, out, func(w *bufio.Writer, line string) error {
		buf = buf[:0]
		for i, id := range tok.Encode(line) {
			if i > 0 {
				buf = append(buf, ' ')
			}
			if asPieces {
				buf = append(buf, tok.Piece(id)...)
			} else {
				buf = strconv.AppendInt(buf, int64(id), 10)
			}
		}
		buf = append(buf, '\n')
		_, err := w.Write(buf)
		return err
	})
}

func decodeLines(tok tokenizer.Tokenizer, in io.Reader, out io.Writer) error {
	return eachLine(in, out, func(w *bufio.Writer, line string) error {
		fields := strings.Fields(line)
		ids := make([]int, len(fields))
		for i, f := range fields {
			id, err := strconv.Atoi(f)
			if err != nil || id < 0 || id >= tok.VocabSize() {
				return fmt.Errorf("field %d: %q is not an id in [0, %d)", i+1, f, tok.VocabSize())
			}
			ids[i] = id
		}
		_, err := fmt.Fprintln(w, tok.Decode(ids))
		return err
	})
}

func writeTokenizerInfo(tok tokenizer.Tokenizer, out io.Writer) error {
	s := tok.Special()
	name := func(id int) string {
		if id < 0 {
			return "(none)"
		}
		return fmt.Sprintf("%d %q", id, tok.Piece(id))
	}
	_, err := fmt.Fprintf(out, "kind       %s\nvocab size %d\nunk        %s\npad        %s\ncls        %s\nsep        %s\nmask       %s\n",
		tok.Kind(), tok.VocabSize(), name(s.Unk), name(s.Pad), name(s.CLS), name(s.SEP), name(s.Mask))
	return err
}
