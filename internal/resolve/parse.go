package resolve

import (
	"strings"
)

// Ref is a reference #{$ALIAS/KEY}; Alias is empty for a global.
type Ref struct {
	Alias string
	Key   string
}

// String is the reference as written inside #{...}: "$/KEY" or "$alias/KEY".
func (r Ref) String() string { return "$" + r.Alias + "/" + r.Key }

// part is a piece of a parsed value: literal text, or a reference.
type part struct {
	lit   string
	ref   Ref
	isRef bool
}

// parse splits a value into literal text and references (the README's References). "##{"
// is a literal "#{"; a "#" that starts neither is literal. where names the
// value for errors, which never quote it.
func parse(where, s string) ([]part, error) {
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '#')
		if j < 0 {
			lit.WriteString(s[i:])
			break
		}
		lit.WriteString(s[i : i+j])
		i += j
		switch {
		case strings.HasPrefix(s[i:], "##{"):
			lit.WriteString("#{")
			i += 3
		case strings.HasPrefix(s[i:], "#{"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, &SyntaxError{Where: where, Offset: i, Reason: `unterminated "#{"`}
			}
			ref, reason := parseRef(s[i+2 : i+2+end])
			if reason != "" {
				return nil, &SyntaxError{Where: where, Offset: i, Reason: reason}
			}
			if lit.Len() > 0 {
				parts = append(parts, part{lit: lit.String()})
				lit.Reset()
			}
			parts = append(parts, part{ref: ref, isRef: true})
			i += 2 + end + 1
		default:
			lit.WriteByte('#')
			i++
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, part{lit: lit.String()})
	}
	return parts, nil
}

// parseRef parses what stands between "#{" and "}". It returns a reason
// when the reference is malformed.
func parseRef(body string) (Ref, string) {
	if body == "" {
		return Ref{}, `empty reference "#{}"`
	}
	if body[0] != '$' {
		return Ref{}, `reference does not start with "$" (write "#{$/KEY}" or "#{$ALIAS/KEY}"; "##{" is a literal "#{")`
	}
	alias, key, ok := strings.Cut(body[1:], "/")
	switch {
	case !ok:
		return Ref{}, `reference has no "/KEY"`
	case alias != "" && !validAlias(alias):
		return Ref{}, "reference names an invalid service alias"
	case !validKey(key):
		return Ref{}, "reference names an invalid key"
	case isSpecial(key):
		return Ref{}, "special keys (__*) cannot be referenced"
	}
	return Ref{Alias: alias, Key: key}, ""
}

// hasMarker reports whether s may hold a reference or an escape, the only
// values parse can change.
func hasMarker(s string) bool { return strings.Contains(s, "#{") }

// validKey reports whether k matches [A-Za-z_][A-Za-z0-9_]*.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidAlias reports whether a matches [A-Za-z0-9][A-Za-z0-9_.-]*.
func ValidAlias(a string) bool { return validAlias(a) }

func validAlias(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '_' || c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
