package resolve

import (
	"fmt"
	"strings"
)

// These let the tools that write the store (envinit secrets) refuse what a
// start would refuse, by the same rules, before anything is written.

// CheckKey returns why k cannot be stored as a secret's key, or "" when it
// can: not a valid name, a key the store may not set (the README's Failing closed), or a
// special key (__*), which tools manage themselves.
func CheckKey(k string) string {
	if validKey(k) && isSpecial(k) {
		return "keys starting with __ are special (" + ImportKey + ", " + SensitiveKey + ") and are not secrets"
	}
	return checkKey(k)
}

// CheckValue returns why raw cannot be stored as a value, or "": the checks
// Resolve makes on a value that holds no reference. References themselves
// are checked at resolution (envinit check).
func CheckValue(raw string) string {
	switch {
	case strings.IndexByte(raw, 0) >= 0:
		return "value holds a NUL byte"
	case len(raw) > MaxValueSize:
		return fmt.Sprintf("value is larger than %d KiB", MaxValueSize>>10)
	}
	return checkValue(raw)
}

// SplitList splits the value of a special key (__import_svc, __sensitive)
// the way Resolve does: on commas and white space.
func SplitList(s string) []string { return splitList(s) }
