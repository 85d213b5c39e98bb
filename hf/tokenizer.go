package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// namedFile is one file of an export.
type namedFile struct {
	name string
	data []byte
}

// specialNames are the special-token fields of tokenizer_config.json and
// special_tokens_map.json that fnet-tui's tokenizers define, with the id
// each has in tokenizer.Special.
var specialNames = []struct {
	key string
	id  func(tokenizer.Special) int
}{
	{"unk_token", func(s tokenizer.Special) int { return s.Unk }},
	{"sep_token", func(s tokenizer.Special) int { return s.SEP }},
	{"pad_token", func(s tokenizer.Special) int { return s.Pad }},
	{"cls_token", func(s tokenizer.Special) int { return s.CLS }},
	{"mask_token", func(s tokenizer.Special) int { return s.Mask }},
}

// tokenizerFiles are the files transformers' tokenizer classes load for
// tok: a SentencePiece model as spiece.model for FNetTokenizer (the
// ALBERT-style SentencePiece tokenizer: [CLS] A [SEP] B [SEP], token
// types 0/1, no lower-casing, accents kept), a WordPiece vocabulary as
// vocab.txt for BertTokenizer (lower-casing as the vocabulary is uncased),
// whatever the model's architecture: tokenizer_config.json names the
// class, so AutoTokenizer picks it. special_tokens_map.json carries the
// pieces of our [CLS]/[SEP]/[MASK]/pad/unk ids.
func tokenizerFiles(cfg fnet.Config, tok tokenizer.Tokenizer) ([]namedFile, string, error) {
	if tok == nil {
		return nil, "the checkpoint has no tokenizer: none exported (give transformers one of your own)", nil
	}
	data, err := tokenizer.Marshal(tok)
	if err != nil {
		return nil, fmt.Sprintf("the %s vocabulary has no transformers tokenizer: none exported", tok.Kind()), nil
	}
	special := map[string]any{}
	sp := tok.Special()
	for _, s := range specialNames {
		if id := s.id(sp); id >= 0 && tok.Piece(id) != "" {
			special[s.key] = tok.Piece(id)
		}
	}
	tc := map[string]any{"model_max_length": cfg.SeqLen, "clean_up_tokenization_spaces": false}
	for k, v := range special {
		tc[k] = v
	}
	// FNet's forward takes no attention_mask (FNetTokenizer's
	// model_input_names); BERT's wants one.
	inputs := []string{"input_ids", "token_type_ids"}
	if cfg.HFModelType() == "bert" {
		inputs = append(inputs, "attention_mask")
	}
	tc["model_input_names"] = inputs
	var vocab namedFile
	switch t := tok.(type) {
	case *tokenizer.SentencePiece:
		vocab = namedFile{SentencePieceFile, data}
		tc["tokenizer_class"] = "FNetTokenizer"
		tc["do_lower_case"], tc["remove_space"], tc["keep_accents"] = false, true, true
	case *tokenizer.WordPiece:
		vocab = namedFile{WordPieceFile, data}
		tc["tokenizer_class"] = "BertTokenizer"
		tc["do_lower_case"], tc["strip_accents"], tc["tokenize_chinese_chars"], tc["do_basic_tokenize"] = t.Lowercase(), nil, true, true
	default:
		return nil, fmt.Sprintf("the %s vocabulary has no transformers tokenizer: none exported", tok.Kind()), nil
	}
	tcj, err := marshalIndent(tc)
	if err != nil {
		return nil, "", err
	}
	stj, err := marshalIndent(special)
	if err != nil {
		return nil, "", err
	}
	return []namedFile{vocab, {TokenizerConfigFile, tcj}, {SpecialTokensFile, stj}}, "", nil
}

// marshalIndent is indented JSON with a final newline, "<pad>" left as
// is (json.Marshal would write \u003cpad\u003e).
func marshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ourSentencePieceFile is the name fnet-tui's checkpoints give a
// SentencePiece model (train.SPTokenizerFile), read when a folder has
// neither of transformers' files.
const ourSentencePieceFile = "tokenizer.model"

// loadTokenizer reads the tokenizer of a transformers folder: spiece.model
// (FNetTokenizer, AlbertTokenizer) or vocab.txt (BertTokenizer), the one
// tokenizer_config.json's tokenizer_class names when both are there. It
// then checks that the folder's tokenizer settings are ones fnet-tui's
// tokenizer reproduces (the special tokens' ids, lower-casing, accents),
// since a difference would change the ids silently. nil when the folder
// has no tokenizer.
func loadTokenizer(dir string) (tokenizer.Tokenizer, error) {
	tcPath := filepath.Join(dir, TokenizerConfigFile)
	tc, err := readJSONObject(tcPath)
	if err != nil {
		return nil, err
	}
	class, _ := tc["tokenizer_class"].(string)
	order := []string{SentencePieceFile, WordPieceFile, ourSentencePieceFile}
	if strings.HasPrefix(class, "Bert") {
		order = []string{WordPieceFile, SentencePieceFile, ourSentencePieceFile}
	}
	var path string
	for _, name := range order {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() {
			path = filepath.Join(dir, name)
			break
		}
	}
	if path == "" {
		if _, err := os.Stat(filepath.Join(dir, FastTokenizerFile)); err == nil {
			return nil, fmt.Errorf("%s: fnet-tui reads a tokenizer from %s or %s, and this folder has only a fast tokenizer's %s; "+
				"write the slow tokenizer's files beside it (e.g. python -c \"from transformers import AutoTokenizer as T; T.from_pretrained('%s', use_fast=False).save_pretrained('%s')\")",
				dir, SentencePieceFile, WordPieceFile, FastTokenizerFile, dir, dir)
		}
		return nil, nil
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, err
	}
	if err := checkTokenizerSettings(tok, class, tc, tcPath); err != nil {
		return nil, err
	}
	stPath := filepath.Join(dir, SpecialTokensFile)
	st, err := readJSONObject(stPath)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		path string
		obj  map[string]any
	}{{stPath, st}, {tcPath, tc}} {
		if err := checkSpecials(tok, m.obj, m.path); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// checkTokenizerSettings compares tokenizer_config.json's normalisation
// switches (or the class's defaults when they are absent) with what
// fnet-tui's tokenizer does.
func checkTokenizerSettings(tok tokenizer.Tokenizer, class string, tc map[string]any, path string) error {
	flag := func(key string, def bool) bool {
		if v, ok := tc[key].(bool); ok {
			return v
		}
		return def
	}
	switch t := tok.(type) {
	case *tokenizer.SentencePiece:
		albert := strings.HasPrefix(class, "Albert") // AlbertTokenizer lower-cases and strips accents by default
		if flag("do_lower_case", albert) {
			return fmt.Errorf("%s: do_lower_case is on, and fnet-tui's SentencePiece tokenizer does not lower-case: its ids would differ from transformers'", path)
		}
		if !flag("keep_accents", !albert) {
			return fmt.Errorf("%s: keep_accents is off, and fnet-tui's SentencePiece tokenizer keeps accents: its ids would differ from transformers'", path)
		}
	case *tokenizer.WordPiece:
		lower := flag("do_lower_case", true) // BertTokenizer's default
		if lower != t.Lowercase() {
			cased := "cased (it has upper-case entries)"
			if t.Lowercase() {
				cased = "uncased (no upper-case entries)"
			}
			return fmt.Errorf("%s: do_lower_case is %v, but fnet-tui reads the vocabulary as %s and lower-cases exactly when it is uncased: its ids would differ from transformers'", path, lower, cased)
		}
		if v, ok := tc["strip_accents"].(bool); ok && v != t.Lowercase() {
			return fmt.Errorf("%s: strip_accents is %v, but fnet-tui strips accents exactly when it lower-cases (do_lower_case %v)", path, v, t.Lowercase())
		}
	}
	return nil
}

// checkSpecials checks that each special token the file names is the
// piece fnet-tui's tokenizer uses for that role.
func checkSpecials(tok tokenizer.Tokenizer, obj map[string]any, path string) error {
	sp := tok.Special()
	for _, s := range specialNames {
		content, ok := tokenContent(obj[s.key])
		if !ok {
			continue
		}
		id, found := tok.ID(content)
		if !found {
			return fmt.Errorf("%s: %s %q is not in the vocabulary", path, s.key, content)
		}
		if want := s.id(sp); id != want {
			return fmt.Errorf("%s: %s is %q (id %d), but fnet-tui's tokenizer uses id %d (%q) for it", path, s.key, content, id, want, tok.Piece(want))
		}
	}
	return nil
}

// tokenContent reads a special token given as a string or as an
// AddedToken object ({"content": "[MASK]", "lstrip": true, ...}).
func tokenContent(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, t != ""
	case map[string]any:
		s, ok := t["content"].(string)
		return s, ok && s != ""
	}
	return "", false
}

// readJSONObject reads a JSON object file; a missing file is an empty object.
func readJSONObject(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
