// Package glue reads the GLUE benchmark's official TSV files, turns examples
// into fnet.Batch inputs, computes the leaderboard's metrics, writes and
// scores submission files, and downloads the official archives.
//
// Tasks are named cola, sst2, mrpc, stsb, qqp, mnli (matched), mnli-mm
// (mismatched), qnli, rte, wnli and ax (the diagnostic set); Lookup also
// takes the usual spellings (CoLA, SST-2, STS-B, MNLI-m, diagnostic ...).
// Splits are train, dev and test; MNLI's dev/test are the matched files for
// mnli and the mismatched ones for mnli-mm. docs/GLUE.md describes the file
// layouts, the metrics and the submission format.
package glue
