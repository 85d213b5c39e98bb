package lra

import (
	"fmt"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Example is one labelled input of an LRA task.
type Example struct {
	// Text is the input: for ListOps the expression in the compact spelling
	// "[MAX 2 9 ]" (a third of the official layout's bytes, the same
	// tokens); for Text the document's bytes.
	Text  string
	Label int // class id, an index into Task.Labels
	// Line is the 1-based line of a TSV file; 0 for a document read from
	// its own file.
	Line int
	// Name is a document's file relative to its split folder
	// ("pos/10_9.txt"); empty for TSV lines.
	Name string
}

// Task is one LRA task: its classes, vocabulary, input length and loader.
type Task struct {
	Name    string   // "listops" or "text"
	Display string   // "ListOps", "Text"
	Labels  []string // class names; ListOps' are the values "0".."9", Text's "neg", "pos"
	Vocab   Vocab
	// SeqLen is LRA's input length for the task, the default data.seq_len:
	// 2000 for ListOps (every example, at most 1999 tokens, fits with its
	// [CLS]) and 1000 for Text (LRA feeds 1000 bytes and adds its CLS inside
	// the model; here [CLS] is the row's first of 1000, leaving 999 bytes).
	SeqLen int

	load func(path, split string) ([]Example, error)
}

var (
	// ListOps is LRA's ListOps: 10 classes, the value of the expression.
	ListOps = Task{Name: "listops", Display: "ListOps", Labels: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		Vocab: ListOpsVocab{}, SeqLen: 2000, load: loadListOps}
	// Text is LRA's byte-level text classification (IMDb reviews in LRA; any
	// text<TAB>label TSV here): 2 classes, 0 = negative, 1 = positive.
	Text = Task{Name: "text", Display: "Text", Labels: []string{"neg", "pos"},
		Vocab: ByteVocab{}, SeqLen: 1000, load: loadText}
)

// Tasks lists the tasks in LRA's order.
var Tasks = []Task{ListOps, Text}

// Lookup finds a task by name: listops, text (also lra/listops, lra/text,
// imdb, case-insensitive).
func Lookup(name string) (Task, error) {
	n := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "lra/")
	switch n {
	case "listops":
		return ListOps, nil
	case "text", "imdb":
		return Text, nil
	}
	return Task{}, fmt.Errorf("lra: unknown task %q (tasks: listops, text)", name)
}

// NumClasses is the width of the classifier.
func (t Task) NumClasses() int { return len(t.Labels) }

// VocabSize and PadID are what a model config needs of the vocabulary.
func (t Task) VocabSize() int { return t.Vocab.VocabSize() }

// PadID is the id rows are padded with.
func (t Task) PadID() int { return t.Vocab.Special().Pad }

// ApplyTo sets the fields of a model config the task decides: the
// vocabulary size, the pad id and the number of labels. [CLS] and [SEP]
// stand in for the informational BOS and EOS ids. The sequence length and
// positions are the caller's (data.seq_len; see SeqLen).
func (t Task) ApplyTo(c *fnet.Config) {
	sp := t.Vocab.Special()
	c.VocabSize = t.Vocab.VocabSize()
	c.PadTokenID = sp.Pad
	c.BOSTokenID, c.EOSTokenID = sp.CLS, sp.SEP
	c.NumLabels = t.NumClasses()
}

// Load reads one split of the task from path, which is
//
//   - a file: read as it is, whatever split says;
//   - a folder: for ListOps, basic_<split>.tsv in it or in its
//     listops-1000 subfolder (the official release's and
//     GenerateListOpsSplits' names); for Text, an aclImdb folder
//     (<split>/pos/*.txt and <split>/neg/*.txt, in path or path/aclImdb),
//     else <split>.tsv in it.
//
// split is train, val or test (dev and validation mean val). aclImdb has
// no validation split: as LRA does, val reads test. Data that is not there
// gives a *MissingError saying how to get it; a malformed line a
// *ParseError naming file and line.
func (t Task) Load(path, split string) ([]Example, error) {
	s, err := ResolveSplit(split)
	if err != nil {
		return nil, err
	}
	return t.load(path, s)
}

// ResolveSplit maps a split name to train, val or test.
func ResolveSplit(split string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(split)) {
	case "train":
		return "train", nil
	case "val", "valid", "validation", "dev":
		return "val", nil
	case "test":
		return "test", nil
	}
	return "", fmt.Errorf("lra: unknown split %q (splits: train, val, test)", split)
}
