// Package lra is the data side of two Long Range Arena tasks (Tay et al.,
// 2020, github.com/google-research/long-range-arena): ListOps and the
// byte-level Text classification task.
//
// ListOps examples are nested list operations over the digits 0–9,
//
//	[MAX 2 9 [MIN 4 7 ] 0 ]  →  9
//
// with MIN, MAX, MED (the median, rounded down as int(np.median) does) and
// SM (the sum mod 10). GenerateListOps and GenerateListOpsSplits make them
// with the rules of the official generator (lra_benchmarks/data/listops.py)
// and write its TSV layout, so no download is needed; ListOps.Load reads
// those files and the official release's listops-1000/basic_*.tsv alike.
// EvalListOps computes an expression's value in any of the spellings in use
// (the official parenthesised one, the compact one above, LRA's tokenised
// one with X for ]).
//
// Text examples are documents classified from their raw bytes: Text.Load
// reads the aclImdb folder layout (train/{pos,neg}/*.txt, test/…) or any
// text<TAB>label TSV.
//
// Both tasks have fixed vocabularies (ListOpsVocab, ByteVocab) whose ids are
// stable and documented on their constants, and Task.Encode turns examples
// into [CLS]-first rows cut into fnet.Batch values the way glue.Encoded
// does. Task.ApplyTo puts the vocabulary size, pad id and class count into a
// model config.
package lra
