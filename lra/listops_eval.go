package lra

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EvalListOps computes the value (0–9) of a ListOps expression. It accepts
// every spelling in use: the official files' parenthesised form
// "( ( ( [MAX 2 ) 9 ) ] )", the compact form "[MAX 2 9 ]" and LRA's
// tokenised form "[MAX 2 9 X". As LRA's input pipeline does, tokens are
// separated by whitespace, parentheses are dropped wherever they are and X
// is ]. An operator needs at least one argument (the generator gives each
// two or more); anything else — an unknown token, an unclosed operator,
// tokens after the end — is an error naming the token.
func EvalListOps(src string) (int, error) {
	var p listOpsParser
	ids, err := p.tokenize(src)
	if err != nil {
		return 0, err
	}
	return p.eval(ids)
}

// FormatListOpsSource writes a ListOps expression in the official files'
// layout (see renderOfficial), whatever spelling it came in.
func FormatListOpsSource(src string) (string, error) {
	var p listOpsParser
	ids, err := p.tokenize(src)
	if err != nil {
		return "", err
	}
	if _, err := p.eval(ids); err != nil {
		return "", err
	}
	return string(p.renderOfficial(nil, ids)), nil
}

// listOpsParser holds the buffers of tokenize, eval and renderOfficial so a
// loader reading a hundred thousand lines allocates them once.
type listOpsParser struct {
	ids    []byte
	stack  []opFrame
	open   []int
	counts []int
}

// listOpsID maps one whitespace-separated field, parentheses already
// removed, to its id.
func listOpsID(tok string) (byte, bool) {
	if len(tok) == 1 {
		switch c := tok[0]; {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c == ']' || c == 'X':
			return ListOpsClose, true
		}
		return 0, false
	}
	for i, name := range operatorNames {
		if tok == name {
			return byte(ListOpsMin + i), true
		}
	}
	return 0, false
}

// tokenize turns a source into symbol ids (0..ListOpsClose); the slice is
// the parser's and valid until its next call. It scans bytes rather than
// splitting fields, as the official training file alone has 10^8 tokens
// and twice as many parentheses.
func (p *listOpsParser) tokenize(src string) ([]byte, error) {
	ids := p.ids[:0]
	n := 0
	for i := 0; i < len(src); {
		// Skip the separators; parentheses are dropped, so they neither
		// separate nor belong to a token ("3)" is 3, "(3(4" is 34).
		for i < len(src) {
			if c := src[i]; c == ' ' || c == '(' || c == ')' {
				i++
			} else if w := spaceWidth(src, i); w > 0 {
				i += w
			} else {
				break
			}
		}
		if i == len(src) {
			break
		}
		// The token runs to the next whitespace; its parentheses are
		// dropped, which costs a copy only when one is inside it.
		start, end, paren, inside := i, i, false, false
		for i < len(src) {
			c := src[i]
			if c == '(' || c == ')' {
				paren = true
			} else if (c <= ' ' || c >= utf8.RuneSelf) && spaceWidth(src, i) > 0 {
				break
			} else {
				inside = inside || paren
				end = i + 1
			}
			i++
		}
		field := src[start:i]
		tok := src[start:end]
		if inside {
			tok = stripParens(tok)
		}
		n++
		id, ok := listOpsID(tok)
		if !ok {
			return nil, fmt.Errorf("token %d %q is not ListOps (want 0-9, [MIN, [MAX, [MED, [SM, ] or X, and parentheses)", n, clip(field))
		}
		ids = append(ids, id)
	}
	p.ids = ids
	return ids, nil
}

// spaceWidth is the byte length of the whitespace character at src[i], or
// 0 if there is none: the separators of strings.Fields (unicode.IsSpace).
func spaceWidth(src string, i int) int {
	c := src[i]
	if c < utf8.RuneSelf {
		switch c {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			return 1
		}
		return 0
	}
	r, w := utf8.DecodeRuneInString(src[i:])
	if unicode.IsSpace(r) {
		return w
	}
	return 0
}

// stripParens drops ( and ) as LRA's regex_replace does.
func stripParens(field string) string {
	return strings.Map(func(r rune) rune {
		if r == '(' || r == ')' {
			return -1
		}
		return r
	}, field)
}

// eval computes the value of a tokenised expression, naming the 1-based
// token at fault in its errors.
func (p *listOpsParser) eval(ids []byte) (int, error) {
	stack := p.stack[:0]
	defer func() { p.stack = stack[:0] }()
	result := -1
	deliver := func(i, v int) error {
		if len(stack) == 0 {
			if result >= 0 {
				return fmt.Errorf("token %d: the expression already ended", i+1)
			}
			result = v
			return nil
		}
		stack[len(stack)-1].add(v)
		return nil
	}
	for i, id := range ids {
		switch {
		case id <= 9:
			if err := deliver(i, int(id)); err != nil {
				return 0, err
			}
		case isOperator(id):
			if len(stack) == 0 && result >= 0 {
				return 0, fmt.Errorf("token %d (%s): the expression already ended", i+1, operatorNames[id-ListOpsMin])
			}
			stack = append(stack, opFrame{op: id})
		case id == ListOpsClose:
			if len(stack) == 0 {
				return 0, fmt.Errorf("token %d: ] closes no operator", i+1)
			}
			top := &stack[len(stack)-1]
			if top.n == 0 {
				return 0, fmt.Errorf("token %d: %s has no arguments", i+1, operatorNames[top.op-ListOpsMin])
			}
			v := top.value()
			stack = stack[:len(stack)-1]
			if err := deliver(i, v); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("token %d: id %d is not a ListOps symbol", i+1, id)
		}
	}
	if len(stack) > 0 {
		return 0, fmt.Errorf("%d operator(s) not closed at the end", len(stack))
	}
	if result < 0 {
		return 0, fmt.Errorf("empty expression")
	}
	return result, nil
}

// appendCompact writes ids as the compact spelling "[MAX 2 9 ]".
func appendCompact(dst, ids []byte) []byte {
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, symbolName(id)...)
	}
	return dst
}

func symbolName(id byte) string {
	switch {
	case id <= 9:
		return digitNames[id]
	case isOperator(id):
		return operatorNames[id-ListOpsMin]
	}
	return "]"
}

var digitNames = [10]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// renderOfficial writes a valid expression as the official generator's
// to_string does. It stores an operator with arguments a1..an as the
// left-nested pairs (((op a1) a2) … an) ]) and wraps every pair in
// parentheses, so the operator is preceded by n+1 "(", every argument is
// followed by ")", and the closing ] by one more:
//
//	[MAX 2 9 ]  →  ( ( ( [MAX 2 ) 9 ) ] )
//
// A bare digit is written as is. ids must be valid (eval returned no error).
func (p *listOpsParser) renderOfficial(dst, ids []byte) []byte {
	// First pass: the argument count of each operator, by position.
	counts := p.counts[:0]
	open := p.open[:0]
	for i, id := range ids {
		counts = append(counts, 0)
		if len(open) > 0 && id != ListOpsClose {
			counts[open[len(open)-1]]++
		}
		if isOperator(id) {
			open = append(open, i)
		} else if id == ListOpsClose {
			open = open[:len(open)-1]
		}
	}
	p.counts, p.open = counts, open[:0]

	first := true
	word := func(w string) {
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(dst, w...)
	}
	depth := 0
	for i, id := range ids {
		switch {
		case isOperator(id):
			for range counts[i] + 1 {
				word("(")
			}
			word(operatorNames[id-ListOpsMin])
			depth++
		case id == ListOpsClose:
			word("]")
			word(")")
			depth--
			if depth > 0 {
				word(")") // this operator was an argument of the enclosing one
			}
		default:
			word(digitNames[id])
			if depth > 0 {
				word(")")
			}
		}
	}
	return dst
}

// clip shortens a token quoted in an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
