package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

var _ resolve.Source = (*File)(nil)

// File is a store read from a local JSON file (ENVINIT_STORE=file:PATH),
// with SSM's layout, for offline runs and demos. Two shapes are accepted:
//
//	{"/envinit/global/DB_HOST": "db.internal", "/envinit/services/api/KEY": "..."}
//	{"Parameters": [{"Name": "/envinit/global/DB_HOST", "Value": "db.internal"}, ...]}
//
// The second is what `aws ssm get-parameters-by-path --path /envinit
// --recursive --with-decryption` prints, so a real environment can be
// snapshotted; other top-level members of that shape are ignored.
//
// The file is the store, so its failures are the store's: a file that
// cannot be read is ErrUnavailable (69), like an SSM that cannot be reached;
// one that is not valid is resolve.ErrData (65), like bad data in SSM.
// Errors give the file and a line and column, never its content: the
// offending text may be a secret.
type File struct {
	prefix string
	params map[string]string // full name -> value
}

// OpenFile reads and parses the store at path once. An empty prefix is
// DefaultPrefix.
func OpenFile(path, prefix string) (*File, error) {
	p, err := cleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// Unwrapped so the path is named once.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{Path: path, kind: ErrUnavailable, Reason: "cannot read the store file", Err: err}
	}
	params, ce := parseStore(data)
	if ce != nil {
		line, col := position(data, ce.offset)
		return nil, &Error{Path: path, kind: resolve.ErrData, Reason: fmt.Sprintf("line %d, column %d: %s", line, col, ce.reason)}
	}
	return &File{prefix: p, params: params}, nil
}

// Service implements resolve.Source with SSM's one-level semantics, in one
// page.
func (f *File) Service(_ context.Context, alias string, page func(map[string]resolve.Value)) error {
	dir := f.prefix + "/services/" + alias + "/"
	kv := make(map[string]resolve.Value)
	for name, v := range f.params {
		if key, ok := strings.CutPrefix(name, dir); ok && key != "" && !strings.Contains(key, "/") {
			kv[key] = resolve.NewValue(v)
		}
	}
	if len(kv) > 0 {
		page(kv)
	}
	return nil
}

// Globals implements resolve.Source.
func (f *File) Globals(_ context.Context, names []string) (map[string]resolve.Value, error) {
	got := make(map[string]resolve.Value, len(names))
	for _, n := range names {
		if v, ok := f.params[f.prefix+"/global/"+n]; ok {
			got[n] = resolve.NewValue(v)
		}
	}
	return got, nil
}

// contentError is a problem at a byte offset of the file. reason never
// quotes the file: encoding/json's own errors do ("invalid character 'x'",
// "cannot unmarshal number 123"), so none of them is passed on.
type contentError struct {
	offset int64
	reason string
}

// parseStore checks the syntax with json.Unmarshal, whose error offsets are
// consistent (a Decoder's are not), then walks the top-level object token
// by token, which also catches a name given twice: Unmarshal into a map
// would keep the last one silently.
func parseStore(data []byte) (map[string]string, *contentError) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset < int64(len(data)) {
			// Offset counts the offending byte.
			return nil, &contentError{offset: se.Offset - 1, reason: "malformed JSON"}
		}
		return nil, &contentError{offset: int64(len(data)), reason: "the JSON ends early"}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &contentError{offset: skipSeparators(data, 0), reason: "the top level is not a JSON object"}
	}
	// The syntax is valid: the walk below fails only on what it checks.
	dec := json.NewDecoder(bytes.NewReader(data))
	_, _ = dec.Token() // {
	flat := make(map[string]string)
	var (
		listed  map[string]string
		otherAt int64 = -1 // a member that is neither a name nor "Parameters"
	)
	for dec.More() {
		at := skipSeparators(data, dec.InputOffset())
		tok, _ := dec.Token()
		name := tok.(string) // an object's keys are strings
		var raw json.RawMessage
		_ = dec.Decode(&raw)
		switch {
		case name == "Parameters":
			var ce *contentError
			if listed, ce = parseList(raw, dec.InputOffset()-int64(len(raw))); ce != nil {
				return nil, ce
			}
		case strings.HasPrefix(name, "/"):
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, &contentError{offset: at, reason: "a parameter's value is not a string"}
			}
			if _, dup := flat[name]; dup {
				return nil, &contentError{offset: at, reason: "a parameter name appears twice"}
			}
			flat[name] = v
		case otherAt < 0:
			otherAt = at
		}
	}

	switch {
	case listed == nil && otherAt >= 0:
		// Not printed: a member that is not a parameter name may well be a
		// value put in the wrong place.
		return nil, &contentError{offset: otherAt, reason: `a member name does not start with "/" (and there is no "Parameters" list)`}
	case listed == nil:
		return flat, nil
	case len(flat) > 0:
		return nil, &contentError{offset: 0, reason: `parameter names and a "Parameters" list at the same time`}
	}
	return listed, nil
}

// parseList reads the "Parameters" list that starts at offset base.
func parseList(raw []byte, base int64) (map[string]string, *contentError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, &contentError{offset: base, reason: `"Parameters" is not a list`}
	}
	params := make(map[string]string)
	for i := 0; dec.More(); i++ {
		at := base + skipSeparators(raw, dec.InputOffset())
		var p struct{ Name, Value *string }
		if err := dec.Decode(&p); err != nil || p.Name == nil || p.Value == nil {
			return nil, &contentError{offset: at, reason: fmt.Sprintf(`Parameters[%d] is not {"Name": string, "Value": string}`, i)}
		}
		if !strings.HasPrefix(*p.Name, "/") {
			return nil, &contentError{offset: at, reason: fmt.Sprintf(`Parameters[%d]: "Name" does not start with "/"`, i)}
		}
		if _, dup := params[*p.Name]; dup {
			return nil, &contentError{offset: at, reason: fmt.Sprintf("Parameters[%d] repeats an earlier name", i)}
		}
		params[*p.Name] = *p.Value
	}
	return params, nil
}

// skipSeparators moves a decoder's offset, which stops after the previous
// token, to the start of the next one, so that its line is reported.
func skipSeparators(data []byte, offset int64) int64 {
	for offset < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[offset]) >= 0 {
		offset++
	}
	return offset
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
