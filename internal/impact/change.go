package impact

import (
	"maps"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// Change is an edit of one environment, built by its methods and applied,
// in the order they were called, by Apply. Owner is a service's alias or
// Global. The zero Change changes nothing.
type Change struct {
	edits []func(e *Env, set func(owner, key string, v resolve.Value))
}

// Set stores v as owner's key, raw: a "#{" in v is a reference (Escape
// makes a literal). The special keys __import_svc and __sensitive may be
// set this way too (an import of an export); every other key must be a
// valid name the store may set.
func (c *Change) Set(owner, key string, v resolve.Value) {
	c.edits = append(c.edits, func(e *Env, set func(owner, key string, v resolve.Value)) { set(owner, key, v) })
}

// Unset removes owner's key, whatever its name (one another tool wrote,
// MY-KEY, included). A key that does not exist is no change.
func (c *Change) Unset(owner, key string) {
	c.edits = append(c.edits, func(e *Env, _ func(owner, key string, v resolve.Value)) { e.Delete(owner, key) })
}

// SetSensitive lists key in owner's __sensitive, or takes it off. The
// list keeps its order; an empty list is removed (SSM holds no empty
// value).
func (c *Change) SetSensitive(owner, key string, sensitive bool) {
	c.edits = append(c.edits, func(e *Env, set func(owner, key string, v resolve.Value)) {
		add, remove := []string{key}, []string(nil)
		if !sensitive {
			add, remove = nil, add
		}
		editSensitive(e, set, owner, add, remove)
	})
}

// SetImports makes service alias import aliases, in that order (later
// ones override earlier ones); none removes its imports.
func (c *Change) SetImports(alias string, aliases ...string) {
	c.edits = append(c.edits, func(e *Env, set func(owner, key string, v resolve.Value)) {
		if len(aliases) == 0 {
			e.Delete(alias, resolve.ImportKey)
			return
		}
		entries := make([]string, len(aliases))
		for i, a := range aliases {
			entries[i] = "$" + strings.TrimPrefix(a, "$")
		}
		set(alias, resolve.ImportKey, resolve.NewValue(strings.Join(entries, ", ")))
	})
}

// Import sets every key of kv in owner, raw, as an import of an export
// does: __import_svc is replaced; __sensitive is merged with owner's, so
// that an import never makes a key less sensitive (SetSensitive does), and
// taken byte for byte when owner has none. Owner's other keys stay.
func (c *Change) Import(owner string, kv map[string]resolve.Value) {
	kv = maps.Clone(kv)
	c.edits = append(c.edits, func(e *Env, set func(owner, key string, v resolve.Value)) {
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if k != resolve.SensitiveKey {
				set(owner, k, kv[k])
			}
		}
		list, ok := kv[resolve.SensitiveKey]
		if _, has := e.Get(owner, resolve.SensitiveKey); ok && !has {
			set(owner, resolve.SensitiveKey, list)
		} else if ok {
			editSensitive(e, set, owner, resolve.SplitList(list.Reveal()), nil)
		}
	})
}

// Copy makes service dst an exact copy of service src as stored: the same
// keys with the same raw values, __import_svc and __sensitive included,
// so that dst resolves as src does. Keys of dst that src lacks are
// removed.
func (c *Change) Copy(src, dst string) {
	c.edits = append(c.edits, func(e *Env, set func(owner, key string, v resolve.Value)) {
		kv := e.owners[src]
		for _, k := range e.Keys(dst) {
			if _, ok := kv[k]; !ok {
				e.Delete(dst, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			set(dst, k, kv[k].Value)
		}
	})
}

// editSensitive adds and removes keys from owner's __sensitive.
func editSensitive(e *Env, set func(owner, key string, v resolve.Value), owner string, add, remove []string) {
	old, _ := e.Get(owner, resolve.SensitiveKey)
	next, changed := editList(old.Value.Reveal(), add, remove)
	switch {
	case !changed:
	case next == "":
		e.Delete(owner, resolve.SensitiveKey)
	default:
		set(owner, resolve.SensitiveKey, resolve.NewValue(next))
	}
}

// editList returns the __sensitive list after adding and removing keys, as
// comma-separated keys: those listed keep their order (duplicates go),
// added ones follow in the order given. changed reports whether the set of
// keys differs, whatever the spelling of the old list.
func editList(list string, add, remove []string) (next string, changed bool) {
	var keys []string
	for _, k := range resolve.SplitList(list) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	before := len(keys)
	keys = slices.DeleteFunc(keys, func(k string) bool { return slices.Contains(remove, k) })
	changed = len(keys) != before
	for _, k := range add {
		if !slices.Contains(keys, k) && !slices.Contains(remove, k) {
			keys = append(keys, k)
			changed = true
		}
	}
	return strings.Join(keys, ","), changed
}

// sensitiveSet is the keys a __sensitive list names.
func sensitiveSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, k := range resolve.SplitList(list) {
		set[k] = true
	}
	return set
}
