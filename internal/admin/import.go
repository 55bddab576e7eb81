package admin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/render"
	"github.com/envinit/envinit/internal/resolve"
)

// MaxImportSize bounds a file to import: far more than any service's keys.
const MaxImportSize = 4 << 20

// ImportRequest is one `envinit secrets import`.
type ImportRequest struct {
	Target Target
	Name   string // the file's name, for messages; "-" for stdin
	// Data is a dotenv file, or the JSON of envinit secrets export
	// --format json (told apart by its first character, "{"). Values are
	// stored as given, references and escapes included: an export
	// imports back exactly.
	Data []byte
	// Sensitive are keys of the file to make sensitive; the others keep
	// their sensitivity as the service sees it (one the app gets as a file
	// is listed in its __sensitive; a new key is not sensitive), and the
	// file's own __sensitive adds to the target's.
	Sensitive []string
	// Literal stores every value so that it resolves to exactly its bytes
	// (resolve.Escape), for a file that holds no references.
	Literal bool
	// AllowMarkers imports what looks like envinit's own output
	// (render's KEY_FILE=DIR/KEY and <sensitive>), which is refused
	// otherwise: it is a resolved, flattened environment, not a store.
	AllowMarkers bool
	Options
}

// ProblemsError is every problem that stops an import (the file's) or an
// export (the service's), one per line; nothing was written or printed.
// It matches resolve.ErrData.
type ProblemsError struct {
	Op    string // "secrets import: app.env"
	Done  string // what it did: "nothing was written; fix these and import again"
	Errs  []error
	hints []string
}

func (e *ProblemsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s:", e.Op, e.Done)
	for _, err := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *ProblemsError) Is(target error) bool { return target == resolve.ErrData }
func (e *ProblemsError) Unwrap() []error      { return e.Errs }
func (e *ProblemsError) Hints() []string      { return e.hints }

// importError is the ProblemsError of the file name.
func importError(name string, errs []error, hints ...string) error {
	return &ProblemsError{Op: "secrets import: " + name, Done: "nothing was written; fix these and import again", Errs: errs, hints: hints}
}

// Import sets every KEY=VALUE of a file, raw. Every line is checked before
// anything is read from the store, every problem reported by line number
// (never by content), then the change is impact-checked like every write;
// values already stored are not written again.
func Import(ctx context.Context, st Store, r ImportRequest) (*Result, error) {
	t, owner := r.Target, r.Target.owner()
	pairs, errs := parseFile(r.Data)
	pairs, more, markers := checkPairs(pairs, t, r.AllowMarkers, r.Force)
	errs = append(errs, more...)
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
	inFile := map[string]bool{}
	for _, p := range pairs {
		inFile[p.Key] = true
	}
	for _, k := range r.Sensitive {
		if !inFile[k] {
			errs = append(errs, &resolve.KeyError{Where: "--sensitive", Key: k, Reason: "not a key of " + r.Name})
		}
	}
	if len(errs) > 0 && markers {
		return nil, importError(r.Name, errs,
			"render prints a service resolved and flattened, its sensitive values as files: envinit secrets export (or copy) gives what is stored",
			"--allow-markers imports such lines as they are")
	}
	if len(errs) > 0 {
		return nil, importError(r.Name, errs)
	}
	if len(pairs) == 0 {
		return nil, importError(r.Name, []error{errors.New("no KEY=VALUE line: nothing to import")})
	}

	env, before, err := read(ctx, st)
	if err != nil {
		return nil, err
	}
	kv := map[string]resolve.Value{}
	for _, p := range pairs {
		v := p.Value
		if r.Literal && !special(p.Key) {
			v = resolve.Escape(v)
		}
		kv[p.Key] = resolve.NewValue(v)
	}
	c := &impact.Change{}
	c.Import(owner, kv)
	asFile := files(before, t)
	for _, p := range pairs {
		if slices.Contains(r.Sensitive, p.Key) || asFile[p.Key] && !listed(before, owner, p.Key) {
			c.SetSensitive(owner, p.Key, true)
		}
	}
	plan := impact.Apply(before, c)
	var rewrite []impact.Write
	for _, p := range pairs {
		rewrite = append(rewrite, impact.Write{Owner: owner, Key: p.Key, Value: kv[p.Key]})
	}
	forced, err := commit(ctx, st, env.Prefix, "secrets import", plan, r.Options, rewrite)
	if err != nil {
		return nil, err
	}

	var lines []string
	set, sensitive := 0, 0
	for _, p := range pairs {
		old, ok := before.Get(owner, p.Key)
		now, _ := plan.After.Get(owner, p.Key)
		unchanged := ok && old.Value.Reveal() == now.Value.Reveal() && r.KMSKeyID == ""
		was, is := listed(before, owner, p.Key) || asFile[p.Key], listed(plan.After, owner, p.Key)
		if !unchanged {
			set++
		}
		if is {
			sensitive++
		}
		switch {
		case !unchanged:
			lines = append(lines, keyLine(t, p.Key, "set", was, is))
		case was != is:
			lines = append(lines, keyLine(t, p.Key, "unchanged:", was, is))
		}
	}
	lines = append(lines, fmt.Sprintf("imported %s into %s: %d set, %d unchanged, %d sensitive", plural(len(pairs), "key"), t, set, len(pairs)-set, sensitive))
	inFileKey := func(alias, k string) bool { return !t.Global && alias == t.Alias && inFile[k] }
	return newResult(plan, forced, t.Alias, inFileKey, lines...), nil
}

func special(k string) bool { return k == resolve.ImportKey || k == resolve.SensitiveKey }

// parseFile parses a dotenv file, or an export in JSON.
func parseFile(data []byte) ([]dotenv.Pair, []error) {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("{")) {
		return parseJSON(trimmed)
	}
	return dotenv.Parse(data)
}

// exportDoc is the JSON of an export.
type exportDoc struct {
	Service string            `json:"service,omitempty"`
	Global  bool              `json:"global,omitempty"`
	Prefix  string            `json:"prefix"`
	Values  map[string]string `json:"values"`
}

// parseJSON reads an export's JSON. Its pairs have no line: problems name
// the key. Errors give a byte offset, never the text: encoding/json's own
// messages quote it.
func parseJSON(data []byte) ([]dotenv.Pair, []error) {
	bad := func(offset int64) []error {
		return []error{fmt.Errorf("not an export of envinit secrets in JSON (at byte %d): {\"values\": {\"KEY\": \"value\", ...}}, as envinit secrets export --format json prints it", offset)}
	}
	var raw struct {
		Values json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, bad(jsonOffset(err))
	}
	var doc exportDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, bad(jsonOffset(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad(dec.InputOffset())
	}
	if doc.Values == nil {
		return nil, bad(0)
	}
	// Unmarshal keeps the last of a key given twice: walk the object.
	var errs []error
	seen := map[string]bool{}
	vals := json.NewDecoder(bytes.NewReader(raw.Values))
	_, _ = vals.Token() // {
	for vals.More() {
		tok, _ := vals.Token()
		k, _ := tok.(string)
		var skip json.RawMessage
		_ = vals.Decode(&skip)
		if seen[k] {
			errs = append(errs, &resolve.KeyError{Where: "values", Key: k, Reason: "given twice: give it once"})
		}
		seen[k] = true
	}
	var pairs []dotenv.Pair
	for _, k := range slices.Sorted(maps.Keys(doc.Values)) {
		pairs = append(pairs, dotenv.Pair{Key: k, Value: doc.Values[k]})
	}
	return pairs, errs
}

func jsonOffset(err error) int64 {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return se.Offset
	case errors.As(err, &te):
		return te.Offset
	}
	return 0
}

// checkPairs refuses what the store may not hold: a key given twice, an
// empty value (SSM stores none), the keys and values a start refuses, the
// special keys a target cannot have; and, unless allowed, envinit's own
// output markers. With force, the keys and values a start refuses are
// left to the impact check, which force overrides. It returns the pairs
// to import, the problems, and whether any was a marker.
func checkPairs(parsed []dotenv.Pair, t Target, allowMarkers, force bool) ([]dotenv.Pair, []error, bool) {
	var pairs []dotenv.Pair
	var errs []error
	markers := false
	seen := map[string]int{}
	for _, p := range parsed {
		problem := func(key, reason string) {
			if p.Line == 0 {
				errs = append(errs, &resolve.KeyError{Where: "values", Key: key, Reason: reason})
				return
			}
			errs = append(errs, &dotenv.Error{Line: p.Line, Key: key, Reason: reason})
		}
		first, dup := seen[p.Key]
		switch base, isFile := strings.CutSuffix(p.Key, "_FILE"); {
		case p.Value == "":
			problem(p.Key, "empty value, which SSM cannot store: leave the line out (or is it part of a multi-line value? quote that)")
		case dup:
			problem(p.Key, fmt.Sprintf("also on line %d: give it once", first))
		case p.Key == resolve.ImportKey && t.Global:
			problem(p.Key, "the globals import nothing: import this file into a service")
		case special(p.Key):
			pairs = append(pairs, p)
		case resolve.CheckKey(p.Key) != "" && !force:
			problem(p.Key, resolve.CheckKey(p.Key))
		case resolve.CheckValue(p.Value) != "" && !force:
			problem(p.Key, resolve.CheckValue(p.Value))
		case !allowMarkers && p.Value == render.SensitiveMark:
			markers = true
			problem(p.Key, "the placeholder envinit render prints for a sensitive value, not a value")
		case !allowMarkers && isFile && strings.HasPrefix(p.Value, "/") && path.Base(p.Value) == base:
			markers = true
			problem(p.Key, "the path of a sensitive value's file, as envinit render prints it, not a stored value")
		default:
			pairs = append(pairs, p)
		}
		if !dup {
			seen[p.Key] = p.Line
		}
	}
	return pairs, errs, markers
}

func line(err error) int {
	var e *dotenv.Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// Exported is a target's parameters as stored: every key, references and
// escapes unresolved, __import_svc and __sensitive included. It holds
// values: it is what `envinit secrets export` was asked to print.
type Exported struct {
	Target Target
	Prefix string
	Values map[string]resolve.Value
}

// Export reads t's parameters as stored. A key whose name is not a valid
// one (MY-KEY, written by another tool) cannot be exported losslessly, nor
// started from: it is an error, naming the fix.
func Export(ctx context.Context, rd Reader, t Target) (*Exported, error) {
	env, e, err := read(ctx, rd)
	if err != nil {
		return nil, err
	}
	owner := t.owner()
	keys := e.Keys(owner)
	if len(keys) == 0 && !t.Global {
		return nil, &resolve.NoSecretsError{Alias: t.Alias}
	}
	x := &Exported{Target: t, Prefix: env.Prefix, Values: map[string]resolve.Value{}}
	var bad []error
	var hints []string
	for _, k := range keys {
		if !dotenv.ValidName(k) {
			bad = append(bad, &resolve.KeyError{Where: t.String(), Key: k, Reason: "not a valid name, which no start accepts and no export can carry"})
			hints = append(hints, fmt.Sprintf("envinit secrets get %s shows it; envinit secrets unset %s removes it", targetArgs(t, k), targetArgs(t, k)))
			continue
		}
		p, _ := e.Get(owner, k)
		x.Values[k] = p.Value
	}
	if len(bad) > 0 {
		return nil, &ProblemsError{Op: "secrets export: " + t.String(), Done: "nothing was exported", Errs: bad, hints: hints}
	}
	return x, nil
}

// targetArgs is t and key as the secrets actions take them.
func targetArgs(t Target, key string) string {
	if t.Global {
		return "--global " + shellWord(key)
	}
	return t.Alias + " " + shellWord(key)
}

// keys returns the exported keys: the special keys first, then the others,
// sorted.
func (x *Exported) keys() []string {
	keys := slices.Sorted(maps.Keys(x.Values))
	slices.SortStableFunc(keys, func(a, b string) int {
		if special(a) != special(b) {
			if special(a) {
				return -1
			}
			return 1
		}
		return 0
	})
	return keys
}

// Dotenv is the export as a dotenv file that `envinit secrets import`
// reads back exactly (dotenv.Quote).
func (x *Exported) Dotenv() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# envinit secrets export: %s under %s, as stored: references unresolved, special keys included.\n", x.Target, x.Prefix)
	b.WriteString("# It holds the values, sensitive ones too. envinit secrets import reads it back.\n")
	for _, k := range x.keys() {
		fmt.Fprintf(&b, "%s=%s\n", k, dotenv.Quote(x.Values[k].Reveal()))
	}
	return b.String()
}

// JSON is the export as {"service" or "global", "prefix", "values": {KEY:
// raw value}}, which `envinit secrets import` reads back too.
func (x *Exported) JSON() ([]byte, error) {
	doc := exportDoc{Service: x.Target.Alias, Global: x.Target.Global, Prefix: x.Prefix, Values: map[string]string{}}
	for k, v := range x.Values {
		doc.Values[k] = v.Reveal()
	}
	return marshal(doc)
}
