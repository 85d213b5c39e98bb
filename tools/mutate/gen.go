package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
)

// Operator names, as spots.txt's ops line and the report use them.
const (
	opArith  = "arith"  // + ↔ -, * ↔ /, % → *, op= likewise, ++ ↔ --, unary minus dropped
	opCmp    = "cmp"    // < ↔ <=, > ↔ >=, < ↔ >, <= ↔ >=, == ↔ !=
	opBool   = "bool"   // && ↔ ||
	opNegate = "negate" // if/for condition c → !(c); !c → c
	opConst  = "const"  // 0 → 1, 1 → 0 and 2, n → n+1; float c → c/2 (0 → 1, 1 → 0 and 2)
	opRemove = "remove" // an assignment (not :=), op= or ++/-- statement's stores removed (what it reads is read into _)
	opCall   = "call"   // a call statement removed (off unless a spot's ops add it)
	opSwap   = "swap"   // a call of F replaced by a call of G (a spot's swap lines)
	opSub    = "sub"    // a spot's explicit text substitution (sub lines)
)

var allOps = []string{opArith, opCmp, opBool, opNegate, opConst, opRemove, opCall, opSwap, opSub}

// defaultOps is every operator but call removal, which mostly deletes log
// lines; a spot opts into it with `ops +call`.
var defaultOps = []string{opArith, opCmp, opBool, opNegate, opConst, opRemove, opSwap, opSub}

// Mutant is one single-edit change of one file.
type Mutant struct {
	ID     string `json:"id"`
	Spot   string `json:"spot"`
	File   string `json:"file"` // relative to the repository root
	Func   string `json:"func"`
	Line   int    `json:"line"`
	Col    int    `json:"col"`
	Op     string `json:"op"`
	Before string `json:"before"`
	After  string `json:"after"`

	src []byte // the whole mutated file
}

// edit replaces src[off:end] with text.
type edit struct {
	off, end int
	text     string
}

func (e edit) apply(src []byte) []byte {
	out := make([]byte, 0, len(src)-(e.end-e.off)+len(e.text))
	out = append(out, src[:e.off]...)
	out = append(out, e.text...)
	return append(out, src[e.end:]...)
}

// Generate makes the mutants of a spot's targets in src (the file's
// content; rel names it in the report).
func Generate(sp *Spot, rel string, src []byte) ([]Mutant, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	g := &generator{sp: sp, rel: rel, src: src, fset: fset, tf: fset.File(f.Pos()), ops: map[string]bool{}}
	for _, o := range sp.Ops {
		g.ops[o] = true
	}
	found := map[string]bool{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := funcName(d)
			if sp.wants(name) {
				found[name] = true
				if d.Body != nil {
					g.target(name, d.Body)
				}
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				vs, ok := s.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for _, n := range vs.Names {
					if sp.wants(n.Name) {
						found[n.Name] = true
						for _, v := range vs.Values {
							g.target(n.Name, v)
						}
					}
				}
			}
		}
	}
	for _, fn := range sp.Funcs {
		if !found[fn] && !found[shortName(fn)] {
			return nil, fmt.Errorf("%s: spot %s: no function or value %s", rel, sp.Name, fn)
		}
	}
	for _, s := range sp.Subs {
		if !g.subDone[s.Old] {
			return nil, fmt.Errorf("%s: spot %s: sub %q matches nothing in the spot's functions", rel, sp.Name, s.Old)
		}
	}
	// stable ids: same text in the same function gets an ordinal
	seen := map[string]int{}
	uniq := map[string]bool{}
	var out []Mutant
	for _, m := range g.out {
		if uniq[string(m.src)] {
			continue // two operators made the same program
		}
		uniq[string(m.src)] = true
		base := fmt.Sprintf("%s:%s %s: %s => %s", m.File, m.Func, m.Op, m.Before, m.After)
		seen[base]++
		m.ID = base
		if n := seen[base]; n > 1 {
			m.ID = fmt.Sprintf("%s #%d", base, n)
		}
		out = append(out, m)
	}
	return out, nil
}

func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + d.Name.Name
	}
	return d.Name.Name
}

func shortName(n string) string {
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		return n[i+1:]
	}
	return n
}

type generator struct {
	sp      *Spot
	rel     string
	src     []byte
	fset    *token.FileSet
	tf      *token.File
	ops     map[string]bool
	out     []Mutant
	subDone map[string]bool

	fn    string
	stack []ast.Node
}

func (g *generator) off(p token.Pos) int { return g.tf.Offset(p) }

func (g *generator) text(n ast.Node) string { return string(g.src[g.off(n.Pos()):g.off(n.End())]) }

// target mutates everything under root, which belongs to function fn.
func (g *generator) target(fn string, root ast.Node) {
	g.fn = fn
	g.stack = g.stack[:0]
	ast.Inspect(root, func(n ast.Node) bool {
		if n == nil {
			g.stack = g.stack[:len(g.stack)-1]
			return true
		}
		g.stack = append(g.stack, n)
		g.visit(n)
		return true
	})
	if g.ops[opSub] {
		g.subs(root)
	}
}

// parent is the node above the one being visited.
func (g *generator) parent() ast.Node {
	if len(g.stack) < 2 {
		return nil
	}
	return g.stack[len(g.stack)-2]
}

// stmt is the innermost statement around the visited node (maybe itself).
func (g *generator) stmt() ast.Stmt {
	for i := len(g.stack) - 1; i >= 0; i-- {
		if s, ok := g.stack[i].(ast.Stmt); ok {
			if _, blk := s.(*ast.BlockStmt); !blk {
				return s
			}
		}
	}
	return nil
}

// stmtTexts are the innermost statement's whole text (for match) and its
// header: a compound statement without its body (for skip).
func (g *generator) stmtTexts() (whole, header string) {
	s := g.stmt()
	if s == nil {
		n := g.stack[len(g.stack)-1]
		t := g.text(n)
		return t, t
	}
	whole = g.text(s)
	var body token.Pos
	switch s := s.(type) {
	case *ast.IfStmt:
		body = s.Body.Lbrace
	case *ast.ForStmt:
		body = s.Body.Lbrace
	case *ast.RangeStmt:
		body = s.Body.Lbrace
	case *ast.SwitchStmt:
		body = s.Body.Lbrace
	case *ast.TypeSwitchStmt:
		body = s.Body.Lbrace
	case *ast.CaseClause:
		body = s.Colon
	case *ast.SelectStmt:
		body = s.Body.Lbrace
	}
	if body.IsValid() {
		return whole, string(g.src[g.off(s.Pos()):g.off(body)])
	}
	return whole, whole
}

func (g *generator) allowed() bool {
	whole, header := g.stmtTexts()
	if g.sp.Match != nil && !g.sp.Match.MatchString(whole) {
		return false
	}
	if g.sp.Skip != nil && g.sp.Skip.MatchString(header) {
		return false
	}
	return true
}

// add records a mutant: e applied to the file; ctx is the node whose text
// the report shows before and after.
func (g *generator) add(op string, at token.Pos, e edit, ctx ast.Node) {
	if !g.ops[op] || !g.allowed() {
		return
	}
	g.addEdit(op, at, e, g.off(ctx.Pos()), g.off(ctx.End()))
}

func (g *generator) addEdit(op string, at token.Pos, e edit, lo, hi int) {
	src := e.apply(g.src)
	before := string(g.src[lo:hi])
	after := string(g.src[lo:e.off]) + e.text + string(g.src[e.end:hi])
	pos := g.fset.Position(at)
	g.out = append(g.out, Mutant{
		Spot: g.sp.Name, File: g.rel, Func: g.fn, Line: pos.Line, Col: pos.Column, Op: op,
		Before: snippet(before, e.off-lo), After: snippet(after, e.off-lo), src: src,
	})
}

var space = regexp.MustCompile(`\s+`)

// snippet is s on one line, cut to a window around byte at when long.
func snippet(s string, at int) string {
	const width = 90
	if len(s) > width {
		lo := max(0, at-width/2)
		hi := min(len(s), lo+width)
		lo = max(0, hi-width)
		for lo > 0 && lo < len(s) && !isBoundary(s[lo]) {
			lo++
		}
		for hi < len(s) && hi > lo && !isBoundary(s[hi]) {
			hi--
		}
		pre, post := "", ""
		if lo > 0 {
			pre = "…"
		}
		if hi < len(s) {
			post = "…"
		}
		s = pre + s[lo:hi] + post
	}
	s = strings.TrimSpace(space.ReplaceAllString(s, " "))
	if s == "" {
		return "(nothing)"
	}
	return strings.ReplaceAll(s, "`", "'")
}

func isBoundary(c byte) bool { return c < 0x80 || c >= 0xC0 }

var (
	arithSwap = map[token.Token][]token.Token{
		token.ADD: {token.SUB}, token.SUB: {token.ADD}, token.MUL: {token.QUO}, token.QUO: {token.MUL}, token.REM: {token.MUL},
		token.ADD_ASSIGN: {token.SUB_ASSIGN}, token.SUB_ASSIGN: {token.ADD_ASSIGN},
		token.MUL_ASSIGN: {token.QUO_ASSIGN}, token.QUO_ASSIGN: {token.MUL_ASSIGN},
		token.INC: {token.DEC}, token.DEC: {token.INC},
	}
	cmpSwap = map[token.Token][]token.Token{
		token.LSS: {token.LEQ, token.GTR}, token.LEQ: {token.LSS, token.GEQ},
		token.GTR: {token.GEQ, token.LSS}, token.GEQ: {token.GTR, token.LEQ},
		token.EQL: {token.NEQ}, token.NEQ: {token.EQL},
	}
	boolSwap = map[token.Token][]token.Token{token.LAND: {token.LOR}, token.LOR: {token.LAND}}
)

func (g *generator) visit(n ast.Node) {
	switch n := n.(type) {
	case *ast.BinaryExpr:
		if n.Op == token.ADD && (isString(n.X) || isString(n.Y)) {
			return // string concatenation
		}
		for op, table := range map[string]map[token.Token][]token.Token{opArith: arithSwap, opCmp: cmpSwap, opBool: boolSwap} {
			for _, to := range table[n.Op] {
				p := g.off(n.OpPos)
				g.add(op, n.OpPos, edit{p, p + len(n.Op.String()), to.String()}, n)
			}
		}
	case *ast.AssignStmt:
		for _, to := range arithSwap[n.Tok] {
			p := g.off(n.TokPos)
			g.add(opArith, n.TokPos, edit{p, p + len(n.Tok.String()), to.String()}, n)
		}
		if n.Tok != token.DEFINE {
			g.add(opRemove, n.Pos(), edit{g.off(n.Pos()), g.off(n.End()), g.dropStore(n)}, n)
		}
	case *ast.IncDecStmt:
		for _, to := range arithSwap[n.Tok] {
			p := g.off(n.TokPos)
			g.add(opArith, n.TokPos, edit{p, p + 2, to.String()}, n)
		}
		g.add(opRemove, n.Pos(), edit{g.off(n.Pos()), g.off(n.End()), "_ = " + g.text(n.X)}, n)
	case *ast.ExprStmt:
		if _, ok := n.X.(*ast.CallExpr); ok {
			g.add(opCall, n.Pos(), edit{g.off(n.Pos()), g.off(n.End()), ""}, n)
		}
	case *ast.UnaryExpr:
		switch n.Op {
		case token.SUB:
			p := g.off(n.OpPos)
			g.add(opArith, n.OpPos, edit{p, p + 1, ""}, n)
		case token.NOT:
			p := g.off(n.OpPos)
			g.add(opNegate, n.OpPos, edit{p, p + 1, ""}, n)
		}
	case *ast.IfStmt:
		g.negate(n.Cond)
	case *ast.ForStmt:
		if n.Cond != nil {
			g.negate(n.Cond)
		}
	case *ast.BasicLit:
		g.constant(n)
	case *ast.CallExpr:
		var id *ast.Ident
		switch f := n.Fun.(type) {
		case *ast.Ident:
			id = f
		case *ast.SelectorExpr:
			id = f.Sel
		}
		if id == nil {
			return
		}
		for _, sw := range g.sp.Swaps {
			if sw.From == id.Name {
				p := g.off(id.Pos())
				g.add(opSwap, id.Pos(), edit{p, p + len(id.Name), sw.To}, n)
			}
		}
	}
}

// dropStore is an assignment with its stores removed: what it read is
// still read (into _), so the variables it used stay used and the mutant
// compiles; only the values it wrote are lost.
func (g *generator) dropStore(n *ast.AssignStmt) string {
	var lhs, rhs []string
	for _, l := range n.Lhs {
		if id, ok := l.(*ast.Ident); !ok || id.Name != "_" {
			lhs = append(lhs, g.text(l))
		}
	}
	for _, r := range n.Rhs {
		rhs = append(rhs, g.text(r))
	}
	blanks := func(k int) string { return strings.TrimSuffix(strings.Repeat("_, ", k), ", ") }
	if len(n.Lhs) == len(n.Rhs) || n.Tok != token.ASSIGN {
		vals := append(lhs, rhs...)
		return blanks(len(vals)) + " = " + strings.Join(vals, ", ")
	}
	// a, b = f(): f's values into blanks, then the targets read
	out := blanks(len(n.Lhs)) + " = " + strings.Join(rhs, ", ")
	if _, inList := g.parent().(*ast.BlockStmt); inList && len(lhs) > 0 {
		out += "; " + blanks(len(lhs)) + " = " + strings.Join(lhs, ", ")
	} else if _, inCase := g.parent().(*ast.CaseClause); inCase && len(lhs) > 0 {
		out += "; " + blanks(len(lhs)) + " = " + strings.Join(lhs, ", ")
	}
	return out
}

func (g *generator) negate(cond ast.Expr) {
	if u, ok := cond.(*ast.UnaryExpr); ok && u.Op == token.NOT {
		return // dropping the ! is the same program; the UnaryExpr case makes it
	}
	if b, ok := cond.(*ast.BinaryExpr); ok && g.ops[opCmp] && (b.Op == token.EQL || b.Op == token.NEQ) {
		return // !(a == b) is a != b, which cmp makes
	}
	lo, hi := g.off(cond.Pos()), g.off(cond.End())
	g.add(opNegate, cond.Pos(), edit{lo, hi, "!(" + string(g.src[lo:hi]) + ")"}, cond)
}

func isString(e ast.Expr) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && (l.Kind == token.STRING || l.Kind == token.CHAR)
}

// constant mutates a number literal.
func (g *generator) constant(l *ast.BasicLit) {
	var repl []string
	switch l.Kind {
	case token.INT:
		v, err := strconv.ParseInt(strings.ReplaceAll(l.Value, "_", ""), 0, 64)
		if err != nil {
			return
		}
		switch v {
		case 0:
			repl = []string{"1"}
		case 1:
			repl = []string{"0", "2"}
		default:
			repl = []string{strconv.FormatInt(v+1, 10)}
		}
	case token.FLOAT:
		v, err := strconv.ParseFloat(strings.ReplaceAll(l.Value, "_", ""), 64)
		if err != nil {
			return
		}
		switch v {
		case 0:
			repl = []string{"1.0"}
		case 1:
			repl = []string{"0.0", "2.0"}
		default:
			repl = []string{strconv.FormatFloat(v/2, 'g', -1, 64)}
			if !strings.ContainsAny(repl[0], ".e") {
				repl[0] += ".0"
			}
		}
	default:
		return
	}
	ctx := ast.Node(l)
	switch p := g.parent().(type) {
	case *ast.BinaryExpr, *ast.CallExpr, *ast.UnaryExpr, *ast.KeyValueExpr, *ast.IndexExpr:
		ctx = p
	}
	lo := g.off(l.Pos())
	for _, r := range repl {
		g.add(opConst, l.Pos(), edit{lo, lo + len(l.Value), r}, ctx)
	}
}

// subs applies the spot's explicit substitutions inside root.
func (g *generator) subs(root ast.Node) {
	if g.subDone == nil {
		g.subDone = map[string]bool{}
	}
	lo, hi := g.off(root.Pos()), g.off(root.End())
	body := g.src[lo:hi]
	for _, s := range g.sp.Subs {
		i := bytes.Index(body, []byte(s.Old))
		if i < 0 {
			continue
		}
		g.subDone[s.Old] = true
		p := lo + i
		g.addEdit(opSub, g.tf.Pos(p), edit{p, p + len(s.Old), s.New}, p, p+len(s.Old))
	}
}
