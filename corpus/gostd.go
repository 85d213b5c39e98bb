package corpus

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// goStdSource is one package of the Go standard library. Its single document
// is the package's documentation in go doc order: the package comment, then
// the comments of exported constants, variables, functions and types (each
// type followed by its constructors and methods), split into sentences.
// Code blocks and headings are left out. One document per package keeps
// related sentences together, which NSP needs, and gives declarations too
// short to make an example on their own a context.
//
// The parsed sentences are cached (the whole library is about 1.5 MB of
// prose), so epochs after the first do not parse the sources again.
type goStdSource struct {
	goroot, importPath, version string

	once      sync.Once
	sentences []string
	err       error
}

func (s *goStdSource) name() string        { return "gostd:" + s.importPath }
func (s *goStdSource) fingerprint() string { return s.version }

// goStdSources lists the packages under $GOROOT/src, skipping testdata,
// internal and vendor trees, in sorted import-path order.
func goStdSources() ([]source, error) {
	goroot, err := findGoRoot()
	if err != nil {
		return nil, err
	}
	version := ""
	if b, err := os.ReadFile(filepath.Join(goroot, "VERSION")); err == nil {
		version, _, _ = strings.Cut(string(b), "\n")
	}
	src := filepath.Join(goroot, "src")
	var paths []string
	err = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		n := d.Name()
		if path != src && (n == "testdata" || n == "internal" || n == "vendor" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
			return filepath.SkipDir
		}
		if path == src {
			return nil
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
				rel, _ := filepath.Rel(src, path)
				paths = append(paths, filepath.ToSlash(rel))
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: gostd: walking %s: %w", src, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("corpus: gostd: no Go packages under %s", src)
	}
	sort.Strings(paths)
	srcs := make([]source, len(paths))
	for i, p := range paths {
		srcs[i] = &goStdSource{goroot: goroot, importPath: p, version: version}
	}
	return srcs, nil
}

// findGoRoot locates the Go installation whose sources the gostd corpus reads:
// $GOROOT, then `go env GOROOT`, then the root this binary was built with.
func findGoRoot() (string, error) {
	var tried []string
	try := func(how, dir string) bool {
		if dir == "" {
			return false
		}
		if fi, err := os.Stat(filepath.Join(dir, "src", "fmt")); err == nil && fi.IsDir() {
			return true
		}
		tried = append(tried, fmt.Sprintf("%s gave %s, which has no src/fmt", how, dir))
		return false
	}
	if dir := os.Getenv("GOROOT"); try("$GOROOT", dir) {
		return dir, nil
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err != nil {
		tried = append(tried, fmt.Sprintf("`go env GOROOT` failed: %v", err))
	} else if dir := strings.TrimSpace(string(out)); try("`go env GOROOT`", dir) {
		return dir, nil
	}
	// Last resort when no go command is on PATH; runtime.GOROOT is
	// deprecated because a binary may have moved, which try guards against.
	if dir := runtime.GOROOT(); try("the build-time GOROOT", dir) {
		return dir, nil
	}
	return "", fmt.Errorf("corpus: gostd needs the Go standard library sources, but none were found (%s); install Go or set GOROOT", strings.Join(tried, "; "))
}

// buildContext fixes the platform so the corpus is the same on every machine.
func (s *goStdSource) buildContext() build.Context {
	ctx := build.Default
	ctx.GOROOT, ctx.GOPATH = s.goroot, ""
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", true
	return ctx
}

func (s *goStdSource) read(from Cursor, sourceIndex int, yield func(Document) bool) error {
	if from.Doc > 0 {
		return nil // a package is one document
	}
	s.once.Do(func() { s.sentences, s.err = s.parse() })
	if s.err != nil || len(s.sentences) == 0 {
		return s.err
	}
	yield(Document{ID: docID(s.name(), 0), Sentences: slices.Clone(s.sentences), Source: sourceIndex, Cursor: Cursor{Line: 1}})
	return nil
}

// parse reads the package's documentation as sentences.
func (s *goStdSource) parse() ([]string, error) {
	dir := filepath.Join(s.goroot, "src", filepath.FromSlash(s.importPath))
	ctx := s.buildContext()
	pkg, err := ctx.ImportDir(dir, 0)
	var noGo *build.NoGoError
	var multi *build.MultiplePackageError
	if errors.As(err, &noGo) || errors.As(err, &multi) {
		return nil, nil // nothing for linux/amd64, or a directory of ignored programs
	}
	if err != nil {
		return nil, fmt.Errorf("corpus: gostd: %s: %w", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range append(append([]string{}, pkg.GoFiles...), pkg.CgoFiles...) {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("corpus: gostd: %w", err)
		}
		files = append(files, f)
	}
	dp, err := doc.NewFromFiles(fset, files, s.importPath)
	if err != nil {
		return nil, fmt.Errorf("corpus: gostd: %s: %w", dir, err)
	}
	return docSentences(dp), nil
}

// docSentences collects a package's doc comments in go doc order.
func docSentences(p *doc.Package) []string {
	cp := p.Parser()
	var out []string
	add := func(text string) {
		if text != "" {
			out = appendBlocks(out, cp.Parse(text).Content)
		}
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			add(v.Doc)
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			add(f.Doc)
		}
	}
	add(p.Doc)
	values(p.Consts)
	values(p.Vars)
	funcs(p.Funcs)
	for _, t := range p.Types {
		add(t.Doc)
		values(t.Consts)
		values(t.Vars)
		funcs(t.Funcs)
		funcs(t.Methods)
	}
	return out
}

// appendBlocks appends the sentences of paragraphs and list items; headings
// and code blocks are not prose and are skipped.
func appendBlocks(out []string, blocks []comment.Block) []string {
	for _, b := range blocks {
		switch b := b.(type) {
		case *comment.Paragraph:
			out = append(out, splitSentences(inlineText(b.Text))...)
		case *comment.List:
			for _, item := range b.Items {
				out = appendBlocks(out, item.Content)
			}
		}
	}
	return out
}

func inlineText(ts []comment.Text) string {
	var sb strings.Builder
	var walk func([]comment.Text)
	walk = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case comment.Plain:
				sb.WriteString(string(t))
			case comment.Italic:
				sb.WriteString(string(t))
			case *comment.Link:
				walk(t.Text)
			case *comment.DocLink:
				walk(t.Text)
			}
		}
	}
	walk(ts)
	return sb.String()
}
