package glue

import (
	"fmt"
	"path"
	"strings"
)

// DefaultBaseURL hosts the official GLUE archives (the URLs of GLUE's
// download_glue_data.py, jiant, TFDS and Hugging Face datasets); EnvBaseURL
// points downloads at a mirror serving the same paths.
const (
	DefaultBaseURL = "https://dl.fbaipublicfiles.com"
	EnvBaseURL     = "FNET_GLUE_BASE_URL"
)

// Remote is one file fetched for an archive.
type Remote struct {
	Path   string // URL path under the base URL
	Size   int64  // expected length in bytes; 0 when unknown
	SHA256 string // expected hex digest; "" when unknown
	// SaveAs is the file's name inside the task folder for a plain file; ""
	// for a zip archive, which is unpacked into the task folder.
	SaveAs string
}

// Archive is what `fnet-tui glue download NAME` fetches for one task folder.
type Archive struct {
	Name  string // CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, AX
	Dir   string // the task folder it fills under the data folder
	Files []Remote
	// build derives files in the staged task folder from the fetched ones
	// (MRPC's train/dev/test.tsv); nil when there is nothing to derive.
	build func(stage string) error
}

// Sizes and SHA-256 digests are the download checksums that Hugging Face
// datasets (glue/dataset_infos.json) and TFDS (url_checksums/glue.txt)
// record for these URLs; AX.tsv and mrpc_dev_ids.tsv also match the copies
// in ../shared/data byte for byte.
var Archives = []Archive{
	{Name: "CoLA", Dir: "CoLA", Files: []Remote{{Path: "/glue/data/CoLA.zip", Size: 376971, SHA256: "f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff"}}},
	{Name: "SST-2", Dir: "SST-2", Files: []Remote{{Path: "/glue/data/SST-2.zip", Size: 7439277, SHA256: "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa"}}},
	{Name: "MRPC", Dir: "MRPC", Files: []Remote{
		// GLUE's own script builds MRPC from the SentEval copy of the MSR
		// corpus and GLUE's list of dev pairs.
		{Path: "/senteval/senteval_data/msr_paraphrase_train.txt", Size: 1047044, SHA256: "60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89", SaveAs: mrpcTrainSrc},
		{Path: "/senteval/senteval_data/msr_paraphrase_test.txt", Size: 441275, SHA256: "a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784", SaveAs: mrpcTestSrc},
		{Path: "/glue/data/mrpc_dev_ids.tsv", Size: 6222, SHA256: "971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7", SaveAs: mrpcDevIDs},
	}, build: buildMRPC},
	{Name: "STS-B", Dir: "STS-B", Files: []Remote{{Path: "/glue/data/STS-B.zip", Size: 802872, SHA256: "e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85"}}},
	{Name: "QQP", Dir: "QQP", Files: []Remote{{Path: "/glue/data/QQP-clean.zip", Size: 41696084, SHA256: "40e7c862c04eb26ee04b67fd900e76c45c6ba8e6d8fab4f8f1f8072a1a3fbae0"}}},
	{Name: "MNLI", Dir: "MNLI", Files: []Remote{{Path: "/glue/data/MNLI.zip", Size: 312783507, SHA256: "e7c1d896d26ed6caf700110645df426cc2d8ebf02a5ab743d5a5c68ac1c83633"}}},
	{Name: "QNLI", Dir: "QNLI", Files: []Remote{{Path: "/glue/data/QNLIv2.zip", Size: 10627589, SHA256: "e634e78627a29adaecd4f955359b22bf5e70f2cbd93b493f2d624138a0c0e5f5"}}},
	{Name: "RTE", Dir: "RTE", Files: []Remote{{Path: "/glue/data/RTE.zip", Size: 697150, SHA256: "6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee"}}},
	{Name: "WNLI", Dir: "WNLI", Files: []Remote{{Path: "/glue/data/WNLI.zip", Size: 28999, SHA256: "ae0e8e4d16f4d46d4a0a566ec7ecceccfd3fbfaa4a7a4b4e02848c0f2561ac46"}}},
	{Name: "AX", Dir: "diagnostic", Files: []Remote{{Path: "/glue/data/AX.tsv", Size: 222257, SHA256: "0e13510b1bb14436ff7e2ee82338f0efb0133ecf2e73507a697dc210db3f05fd", SaveAs: "diagnostic.tsv"}}},
}

// LookupArchive finds an archive by its name (CoLA, SST-2, AX ...) or by
// the name of a task it holds (mnli-mm gives MNLI, diagnostic gives AX).
func LookupArchive(name string) (Archive, error) {
	for _, a := range Archives {
		if fold(a.Name) == fold(name) {
			return a, nil
		}
	}
	if t, err := Lookup(name); err == nil {
		for _, a := range Archives {
			if a.Name == t.Archive {
				return a, nil
			}
		}
	}
	names := make([]string, len(Archives))
	for i, a := range Archives {
		names[i] = a.Name
	}
	return Archive{}, fmt.Errorf("glue: unknown task %q (download names: %s)", name, strings.Join(names, ", "))
}

// Want lists the files (relative to the data folder) that make the archive
// complete: every split file of the tasks it holds.
func (a Archive) Want() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range AllTasks {
		if t.Archive != a.Name {
			continue
		}
		for _, s := range t.Splits() {
			f := layouts[t.Name][s].file
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// wantInDir is Want relative to the archive's own folder.
func (a Archive) wantInDir() []string {
	var out []string
	for _, f := range a.Want() {
		out = append(out, strings.TrimPrefix(f, a.Dir+"/"))
	}
	return out
}

func (r Remote) base() string { return path.Base(r.Path) }
