package lra

import (
	"fmt"
	"io/fs"
)

// ParseError is a malformed line of a data file.
type ParseError struct {
	File string
	Line int // 1-based
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// MissingError is data that is not where Load looked. Hint says how to get
// it (the generate command, the download address). It matches
// fs.ErrNotExist with errors.Is.
type MissingError struct {
	Task, Split string
	Path        string // what was looked for
	Hint        string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("lra: %s %s split: %s does not exist; %s", e.Task, e.Split, e.Path, e.Hint)
}

func (e *MissingError) Unwrap() error { return fs.ErrNotExist }

// Where the data comes from, for the MissingError hints.
const (
	// ACLIMDBURL is the Large Movie Review Dataset (Maas et al., 2011), the
	// source of LRA's Text task.
	ACLIMDBURL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
	// LRAReleaseURL is the official LRA data release; ListOps is in its
	// listops-1000 folder.
	LRAReleaseURL = "https://storage.googleapis.com/long-range-arena/lra_release.gz"
	// GenerateListOpsCommand makes ListOps data without a download.
	GenerateListOpsCommand = "fnet-tui lra generate listops --out DIR"
)
