package resolve

import "strings"

// Escape returns the stored form of the literal s: a value that resolves
// to exactly s, whatever it holds. Every "#{" becomes "##{" (SPEC §4);
// nothing else changes, so a value without "#{" is stored as it is.
// (envinit secrets set --literal.)
func Escape(s string) string { return strings.ReplaceAll(s, "#{", "##{") }

// Syntax returns the first malformed reference in the stored value raw,
// as a *SyntaxError naming where and the byte offset, or nil when every
// "#{" in raw is a reference or an escape. It checks the grammar only: a
// well-formed reference may still name a key that does not exist.
func Syntax(where, raw string) error {
	if !hasMarker(raw) {
		return nil
	}
	_, err := parse(where, raw)
	return err
}

// References returns the references of the stored value raw, in the order
// they appear, or, like Syntax, its first malformed one. (envinit secrets
// find, which lists what refers to a key.)
func References(where, raw string) ([]Ref, error) {
	if !hasMarker(raw) {
		return nil, nil
	}
	parts, err := parse(where, raw)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, p := range parts {
		if p.isRef {
			refs = append(refs, p.ref)
		}
	}
	return refs, nil
}
