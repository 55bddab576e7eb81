package impact

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// Plan is a change applied in memory: the environment before and after,
// what it does to each service, and the writes that make it so.
type Plan struct {
	Before, After *Env
	// Services are the services the change does something to, sorted by
	// alias; every other service under the prefix starts as before.
	Services []Impact
	// Invalid are the values and keys the change stores that no start
	// could take, whether a service reads them yet or not: a key that is
	// not a valid name or one the store may not set, an empty value, a
	// NUL byte, a malformed reference (a *resolve.SyntaxError: the value
	// may have been meant as a literal, see resolve.Escape). Each matches
	// resolve.ErrData and holds no value.
	Invalid []error

	changed map[string]map[string]bool // owner → keys whose value or existence differ
}

// Impact is what a change does to one service's next start.
type Impact struct {
	Alias   string
	Added   bool // the service has no parameter before the change
	Removed bool // the service has no parameter after it: its start fails, nothing else is said of it
	// Broken are the problems its next start would have that it does not
	// have now (all of them, for an added service): the change makes it
	// fail. Fixed are those it would no longer have.
	Broken, Fixed []error
	// Exports are its variables whose exposure changes, sorted by key:
	// added, removed, or moved between KEY and KEY_FILE (by __sensitive
	// or by a reference to a sensitive value). Known only when the start
	// succeeds both before and after the change.
	Exports []Export
}

// Exposure is how a key of the store reaches COMMAND (SPEC §6, §7).
type Exposure int

const (
	NotExported Exposure = iota // not in COMMAND's environment
	AsVariable                  // KEY=value
	AsFile                      // KEY_FILE=path, the value in the file
)

// Variable is the name COMMAND sees key under, or "" for NotExported.
func (x Exposure) Variable(key string) string {
	switch x {
	case AsVariable:
		return key
	case AsFile:
		return key + "_FILE"
	}
	return ""
}

// Export is a change of one variable's exposure.
type Export struct {
	Key           string
	Before, After Exposure
}

// SensitivityChanged reports whether the variable moves between KEY and
// KEY_FILE: it was exported before and is after, differently.
func (x Export) SensitivityChanged() bool {
	return x.Before != NotExported && x.After != NotExported && x.Before != x.After
}

func (x Export) String() string {
	switch {
	case x.Before == NotExported:
		return "adds " + x.After.Variable(x.Key)
	case x.After == NotExported:
		return "removes " + x.Before.Variable(x.Key)
	case x.After == AsFile:
		return x.Key + " becomes sensitive: " + x.Before.Variable(x.Key) + " -> " + x.After.Variable(x.Key)
	}
	return x.Key + " is no longer sensitive: " + x.Before.Variable(x.Key) + " -> " + x.After.Variable(x.Key)
}

// Apply applies c to a copy of before and resolves, with the entrypoint's
// own resolver (Start), every service whose start reads a parameter the
// change touches — before and after — to say what it breaks, fixes and
// exposes. Services under the prefix that read nothing it touches start
// exactly as before and are not resolved twice. before is not changed.
func Apply(before *Env, c *Change) *Plan {
	p := &Plan{Before: before, After: before.Clone()}
	set := func(owner, key string, v resolve.Value) {
		if old, ok := p.After.Get(owner, key); ok && old.Value.Reveal() == v.Reveal() {
			return // unchanged: keeps its version
		}
		p.After.Put(owner, key, Param{Value: v})
	}
	for _, edit := range c.edits {
		edit(p.After, set)
	}
	p.changed = diff(before, p.After)
	p.Invalid = p.invalid()

	for _, alias := range union(before.Services(), p.After.Services()) {
		o1, r1 := before.start(alias)
		_, existed := before.owners[alias]
		_, exists := p.After.owners[alias]
		if existed && exists && !r1.touches(p.changed) {
			continue
		}
		imp := Impact{Alias: alias, Added: !existed, Removed: !exists}
		if exists {
			o2 := p.After.Start(alias)
			if existed {
				imp.Broken = minus(o2.Problems, o1.Problems)
				imp.Fixed = minus(o1.Problems, o2.Problems)
			} else {
				imp.Broken = o2.Problems
			}
			if o2.OK() && (o1.OK() || !existed) {
				imp.Exports = exports(o1, o2, existed)
			}
		} else if existed {
			imp.Exports = exports(o1, nil, true)
		}
		if imp.Added || imp.Removed || len(imp.Broken) > 0 || len(imp.Fixed) > 0 || len(imp.Exports) > 0 {
			p.Services = append(p.Services, imp)
		}
	}
	return p
}

// Breaks returns the services the change would make fail, in order.
func (p *Plan) Breaks() []Impact {
	var out []Impact
	for _, imp := range p.Services {
		if len(imp.Broken) > 0 {
			out = append(out, imp)
		}
	}
	return out
}

// Removes returns the aliases of the services the change removes (their
// last key goes): their next start fails with "no secrets".
func (p *Plan) Removes() []string {
	var out []string
	for _, imp := range p.Services {
		if imp.Removed {
			out = append(out, imp.Alias)
		}
	}
	return out
}

// Changed reports whether the change writes anything.
func (p *Plan) Changed() bool { return len(p.changed) > 0 }

// Refusal returns nil when the change breaks no service and stores
// nothing invalid, or else a *RefusedError saying why (exit 65). Removing
// a service is not a refusal: the tool says so (Removes) and decides.
func (p *Plan) Refusal() error {
	breaks := p.Breaks()
	if len(breaks) == 0 && len(p.Invalid) == 0 {
		return nil
	}
	return &RefusedError{Breaks: breaks, Invalid: p.Invalid}
}

// RefusedError is a change that would make services fail at their next
// start, or that stores what no start could take. It matches
// resolve.ErrData (exit 65); Unwrap gives every problem.
type RefusedError struct {
	Breaks  []Impact
	Invalid []error
}

func (e *RefusedError) Error() string {
	var parts []string
	if len(e.Breaks) > 0 {
		aliases := make([]string, len(e.Breaks))
		for i, imp := range e.Breaks {
			aliases[i] = imp.Alias
		}
		what := "service"
		if len(aliases) > 1 {
			what = "services"
		}
		parts = append(parts, fmt.Sprintf("it would make the next start of %d %s fail (%s)", len(aliases), what, strings.Join(aliases, ", ")))
	}
	if len(e.Invalid) > 0 {
		parts = append(parts, fmt.Sprintf("it stores %d value(s) or key(s) no start can take", len(e.Invalid)))
	}
	return "change refused: " + strings.Join(parts, ", and ")
}

func (e *RefusedError) Is(target error) bool { return target == resolve.ErrData }

// Unwrap returns the problems: each service's, then the invalid values'.
func (e *RefusedError) Unwrap() []error {
	var errs []error
	for _, imp := range e.Breaks {
		for _, err := range imp.Broken {
			errs = append(errs, &StartError{Alias: imp.Alias, Err: err})
		}
	}
	return append(errs, e.Invalid...)
}

// StartError is a problem of one service's start.
type StartError struct {
	Alias string
	Err   error
}

func (e *StartError) Error() string { return "start of " + e.Alias + ": " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// invalid checks every value and key the change stores.
func (p *Plan) invalid() []error {
	var errs []error
	for _, owner := range slices.Sorted(maps.Keys(p.changed)) {
		for _, key := range slices.Sorted(maps.Keys(p.changed[owner])) {
			param, ok := p.After.Get(owner, key)
			if !ok {
				continue // removed
			}
			where := "$" + owner + "/" + key
			whose := "$" + owner
			if owner == Global {
				whose = "the globals"
			}
			if key != resolve.ImportKey && key != resolve.SensitiveKey {
				if why := resolve.CheckKey(key); why != "" {
					errs = append(errs, &resolve.KeyError{Where: whose, Key: key, Reason: why})
					continue
				}
			}
			raw := param.Value.Reveal()
			switch {
			case raw == "":
				errs = append(errs, &resolve.ValueError{Where: where, Reason: "empty value, which SSM cannot store"})
			case resolve.CheckValue(raw) != "":
				errs = append(errs, &resolve.ValueError{Where: where, Reason: resolve.CheckValue(raw)})
			case key != resolve.ImportKey && key != resolve.SensitiveKey:
				if err := resolve.Syntax(where, raw); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errs
}

// diff returns, per owner, the keys whose value or existence differ.
func diff(a, b *Env) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	mark := func(owner, key string) {
		if out[owner] == nil {
			out[owner] = map[string]bool{}
		}
		out[owner][key] = true
	}
	for owner, kv := range a.owners {
		for k, p := range kv {
			if q, ok := b.Get(owner, k); !ok || q.Value.Reveal() != p.Value.Reveal() {
				mark(owner, k)
			}
		}
	}
	for owner, kv := range b.owners {
		for k := range kv {
			if _, ok := a.Get(owner, k); !ok {
				mark(owner, k)
			}
		}
	}
	return out
}

// exports compares the variables of two successful starts; a nil side
// exports nothing.
func exports(before, after *Outcome, existed bool) []Export {
	exposure := func(o *Outcome) map[string]Exposure {
		m := map[string]Exposure{}
		if o == nil || o.Result == nil {
			return m
		}
		for _, s := range o.Result.Secrets {
			m[s.Key] = AsVariable
			if s.Sensitive {
				m[s.Key] = AsFile
			}
		}
		return m
	}
	var b map[string]Exposure
	if existed {
		b = exposure(before)
	} else {
		b = map[string]Exposure{}
	}
	a := exposure(after)
	var out []Export
	for _, k := range union(slices.Collect(maps.Keys(b)), slices.Collect(maps.Keys(a))) {
		if b[k] != a[k] {
			out = append(out, Export{Key: k, Before: b[k], After: a[k]})
		}
	}
	return out
}

// minus returns the problems of a whose text is not among b's.
func minus(a, b []error) []error {
	seen := make(map[string]bool, len(b))
	for _, err := range b {
		seen[err.Error()] = true
	}
	var out []error
	for _, err := range a {
		if !seen[err.Error()] {
			out = append(out, err)
		}
	}
	return out
}

// union returns the strings of a and b, sorted, once each.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
