package resolve

import (
	"errors"
	"fmt"
	"strings"
)

// ErrData is matched (errors.Is) by every error that is the store's data at
// fault rather than the store's availability: bad references, missing keys
// or services, cycles, invalid or forbidden keys, bad values: exit 65 (the README's Exit codes).
var ErrData = errors.New("data error")

// None of these errors hold a value: only keys, aliases, reference names
// (which are names, never values) and byte offsets.

// SyntaxError is a malformed reference or import list. The offending text
// is not quoted: it may be part of a secret that merely looks like one.
type SyntaxError struct {
	Where  string // "svc-abc/DATABASE_URL", "$/DB_URL", "env DATABASE_URL"
	Offset int    // byte offset of the problem in the value
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: malformed reference at byte %d: %s", e.Where, e.Offset, e.Reason)
}

func (e *SyntaxError) Is(target error) bool { return target == ErrData }

// MissingError is a reference to a key that does not exist.
type MissingError struct {
	Where string // the value holding the reference
	Ref   string // "$/DB_HOST" or "$svc-abc/API_KEY"
}

func (e *MissingError) Error() string {
	alias, key, _ := strings.Cut(strings.TrimPrefix(e.Ref, "$"), "/")
	if alias == "" {
		return fmt.Sprintf("%s: reference #{%s}: no global %s", e.Where, e.Ref, key)
	}
	return fmt.Sprintf("%s: reference #{%s}: service %s has no key %s", e.Where, e.Ref, alias, key)
}

func (e *MissingError) Is(target error) bool { return target == ErrData }

// NoSecretsError is a service with no parameters at all: the service being
// started, one it imports, or one a reference names.
type NoSecretsError struct {
	Alias string
	// Via says how the service was reached: "" for the service itself,
	// "imported by svc-x", "referenced by svc-x/KEY".
	Via string
}

func (e *NoSecretsError) Error() string {
	if e.Via == "" {
		return fmt.Sprintf("service %s has no secrets (a wrong service alias, prefix or region looks exactly like this)", e.Alias)
	}
	return fmt.Sprintf("service %s, %s, has no secrets", e.Alias, e.Via)
}

func (e *NoSecretsError) Is(target error) bool { return target == ErrData }

// CycleError is a loop through references or imports.
type CycleError struct {
	Kind  string   // "reference" or "import"
	Chain []string // first and last are the same node
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("%s cycle: %s", e.Kind, strings.Join(e.Chain, " -> "))
}

func (e *CycleError) Is(target error) bool { return target == ErrData }

// KeyError is a key that is not a valid name, or one the store may not set.
type KeyError struct {
	Where  string // "svc-abc", "global", "env"
	Key    string // printed quoted: it may hold any byte the store allows
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s: key %q: %s", e.Where, e.Key, e.Reason)
}

func (e *KeyError) Is(target error) bool { return target == ErrData }

// ValueError is a value envinit refuses to pass on.
type ValueError struct {
	Where  string
	Reason string
}

func (e *ValueError) Error() string { return fmt.Sprintf("%s: %s", e.Where, e.Reason) }

func (e *ValueError) Is(target error) bool { return target == ErrData }
