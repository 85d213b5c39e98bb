package corpus

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// abbreviations end in a period without ending a sentence.
var abbreviations = map[string]bool{
	"e.g.": true, "i.e.": true, "cf.": true, "vs.": true,
	"Mr.": true, "Mrs.": true, "Ms.": true, "Dr.": true, "St.": true, "No.": true,
}

// splitSentences splits prose into sentences: a word ending in '.', '!' or
// '?' (possibly followed by closing quotes or brackets) ends a sentence when
// the next word starts with an upper-case letter, a digit or an opening
// quote. Whitespace runs collapse to one space. Identifiers such as os.Open
// contain no space after the period and stay whole.
func splitSentences(text string) []string {
	words := strings.Fields(text)
	var out []string
	start := 0
	for i, w := range words {
		if i+1 < len(words) && endsSentence(w) && startsSentence(words[i+1]) {
			out = append(out, strings.Join(words[start:i+1], " "))
			start = i + 1
		}
	}
	if start < len(words) {
		out = append(out, strings.Join(words[start:], " "))
	}
	return out
}

func endsSentence(w string) bool {
	if abbreviations[w] {
		return false
	}
	w = strings.TrimRight(w, ")]\"'’”")
	if w == "" {
		return false
	}
	switch w[len(w)-1] {
	case '.', '!', '?':
	default:
		return false
	}
	// A single capital followed by a period is an initial ("J. Smith").
	core := strings.TrimRight(w, ".!?")
	return !(utf8.RuneCountInString(core) == 1 && unicode.IsUpper([]rune(core)[0]))
}

func startsSentence(w string) bool {
	w = strings.TrimLeft(w, "(\"'‘“")
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r) || unicode.IsDigit(r)
}
