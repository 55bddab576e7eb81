package impact

import (
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// KeyView is one key as a service's start sees it, for a listing: never
// its value.
type KeyView struct {
	Key   string
	Owner string // the service that stores it: the service itself, or one it imports
	Param Param  // the stored parameter: its Version and Modified (and its value, not to be printed)
	// Exposure is how COMMAND gets it (KEY or KEY_FILE). NotExported for
	// the special keys, for a key another of the service's keys or
	// imports overrides, and for every key when the start fails
	// (Outcome.Problems say why).
	Exposure Exposure
	// Why says what makes an exported key sensitive: "listed in
	// __sensitive", "listed by $shared" (an import, or the service that
	// stores it), "interpolates a sensitive value"; "" for a variable.
	Why string
}

// View returns the keys of service alias as its start sees them, sorted
// by key: its own (valid names or not, special keys included) and those it
// imports; and the start's Outcome, whose problems name the keys that stop
// it.
func (e *Env) View(alias string) ([]KeyView, *Outcome) {
	o := e.Start(alias)
	secrets := map[string]resolve.Secret{}
	if o.Result != nil {
		for _, s := range o.Result.Secrets {
			secrets[s.Key] = s
		}
	}
	var out []KeyView
	for _, k := range e.Keys(alias) {
		out = append(out, e.keyView(o, alias, alias, k, secrets))
	}
	for _, s := range o.resultSecrets() {
		if s.Origin != alias {
			out = append(out, e.keyView(o, alias, s.Origin, s.Key, secrets))
		}
	}
	slices.SortFunc(out, func(a, b KeyView) int { return strings.Compare(a.Key, b.Key) })
	return out, o
}

func (o *Outcome) resultSecrets() []resolve.Secret {
	if o.Result == nil {
		return nil
	}
	return o.Result.Secrets
}

func (e *Env) keyView(o *Outcome, alias, owner, key string, secrets map[string]resolve.Secret) KeyView {
	p, _ := e.Get(owner, key)
	kv := KeyView{Key: key, Owner: owner, Param: p}
	s, ok := secrets[key]
	if !ok || s.Origin != owner {
		return kv
	}
	if !s.Sensitive {
		kv.Exposure = AsVariable
		return kv
	}
	kv.Exposure = AsFile
	listedBy := func(svc string) bool {
		l, _ := e.Get(svc, resolve.SensitiveKey)
		return sensitiveSet(l.Value.Reveal())[key]
	}
	switch {
	case listedBy(alias):
		kv.Why = "listed in " + resolve.SensitiveKey
	case listedBy(owner):
		kv.Why = "listed by $" + owner
	default:
		kv.Why = "interpolates a sensitive value"
		// A service between alias and owner on the import path may list it.
		for _, svc := range o.Graph.Services() {
			if svc != alias && svc != owner && listedBy(svc) && e.imports(alias, svc) {
				kv.Why = "listed by $" + svc
				break
			}
		}
	}
	return kv
}

// imports reports whether service a imports service b, directly or not.
func (e *Env) imports(a, b string) bool {
	seen := map[string]bool{}
	var walk func(s string) bool
	walk = func(s string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		l, _ := e.Get(s, resolve.ImportKey)
		for _, tok := range resolve.SplitList(l.Value.Reveal()) {
			imp := strings.TrimPrefix(tok, "$")
			if imp == b || walk(imp) {
				return true
			}
		}
		return false
	}
	return walk(a)
}
