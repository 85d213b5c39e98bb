package glue

// layout says where a split's file is and which of its columns hold the
// index, the two texts and the gold label. Columns are found by header
// name, so extra columns (MNLI's parses, STS-B's provenance) are ignored.
type layout struct {
	file string
	// implicit is the column list of a file without a header line (CoLA
	// train/dev); nil when the first line is a header.
	implicit []string
	index    string // "" when the file has none: the 0-based row number is used
	textA    string
	textB    string // "" for single-sentence tasks
	label    string // "" when unlabelled
	score    string // STS-B's similarity column
	// labelLast takes the label from a row's last field, as the GLUE
	// reference loaders do for MNLI, whose rows carry a varying number of
	// annotator labels before gold_label.
	labelLast bool
}

var colaRaw = []string{"source", "label", "original_mark", "sentence"}

// layouts holds the official file layouts. Text order follows the official
// FNet code: MNLI and AX feed (hypothesis, premise), i.e. sentence2 first.
var layouts = map[string]map[string]layout{
	"cola": {
		"train": {file: "CoLA/train.tsv", implicit: colaRaw, textA: "sentence", label: "label"},
		"dev":   {file: "CoLA/dev.tsv", implicit: colaRaw, textA: "sentence", label: "label"},
		"test":  {file: "CoLA/test.tsv", index: "index", textA: "sentence"},
	},
	"sst2": {
		"train": {file: "SST-2/train.tsv", textA: "sentence", label: "label"},
		"dev":   {file: "SST-2/dev.tsv", textA: "sentence", label: "label"},
		"test":  {file: "SST-2/test.tsv", index: "index", textA: "sentence"},
	},
	"mrpc": {
		"train": {file: "MRPC/train.tsv", textA: "#1 String", textB: "#2 String", label: "Quality"},
		"dev":   {file: "MRPC/dev.tsv", textA: "#1 String", textB: "#2 String", label: "Quality"},
		"test":  {file: "MRPC/test.tsv", index: "index", textA: "#1 String", textB: "#2 String"},
	},
	"stsb": {
		"train": {file: "STS-B/train.tsv", index: "index", textA: "sentence1", textB: "sentence2", score: "score"},
		"dev":   {file: "STS-B/dev.tsv", index: "index", textA: "sentence1", textB: "sentence2", score: "score"},
		"test":  {file: "STS-B/test.tsv", index: "index", textA: "sentence1", textB: "sentence2"},
	},
	"qqp": {
		"train": {file: "QQP/train.tsv", index: "id", textA: "question1", textB: "question2", label: "is_duplicate"},
		"dev":   {file: "QQP/dev.tsv", index: "id", textA: "question1", textB: "question2", label: "is_duplicate"},
		"test":  {file: "QQP/test.tsv", index: "id", textA: "question1", textB: "question2"},
	},
	"mnli": {
		"train": {file: "MNLI/train.tsv", index: "index", textA: "sentence2", textB: "sentence1", label: "gold_label", labelLast: true},
		"dev":   {file: "MNLI/dev_matched.tsv", index: "index", textA: "sentence2", textB: "sentence1", label: "gold_label", labelLast: true},
		"test":  {file: "MNLI/test_matched.tsv", index: "index", textA: "sentence2", textB: "sentence1"},
	},
	"mnli-mm": {
		"train": {file: "MNLI/train.tsv", index: "index", textA: "sentence2", textB: "sentence1", label: "gold_label", labelLast: true},
		"dev":   {file: "MNLI/dev_mismatched.tsv", index: "index", textA: "sentence2", textB: "sentence1", label: "gold_label", labelLast: true},
		"test":  {file: "MNLI/test_mismatched.tsv", index: "index", textA: "sentence2", textB: "sentence1"},
	},
	"qnli": {
		"train": {file: "QNLI/train.tsv", index: "index", textA: "question", textB: "sentence", label: "label"},
		"dev":   {file: "QNLI/dev.tsv", index: "index", textA: "question", textB: "sentence", label: "label"},
		"test":  {file: "QNLI/test.tsv", index: "index", textA: "question", textB: "sentence"},
	},
	"rte": {
		"train": {file: "RTE/train.tsv", index: "index", textA: "sentence1", textB: "sentence2", label: "label"},
		"dev":   {file: "RTE/dev.tsv", index: "index", textA: "sentence1", textB: "sentence2", label: "label"},
		"test":  {file: "RTE/test.tsv", index: "index", textA: "sentence1", textB: "sentence2"},
	},
	"wnli": {
		"train": {file: "WNLI/train.tsv", index: "index", textA: "sentence1", textB: "sentence2", label: "label"},
		"dev":   {file: "WNLI/dev.tsv", index: "index", textA: "sentence1", textB: "sentence2", label: "label"},
		"test":  {file: "WNLI/test.tsv", index: "index", textA: "sentence1", textB: "sentence2"},
	},
	"ax": {
		"test": {file: "diagnostic/diagnostic.tsv", index: "index", textA: "sentence2", textB: "sentence1"},
	},
}
