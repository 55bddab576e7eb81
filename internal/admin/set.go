package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/resolve"
)

// Sensitivity is what set does to a key's sensitivity.
type Sensitivity int

const (
	Keep          Sensitivity = iota // as it is; a new key is not sensitive
	MakeSensitive                    // list it in __sensitive
	NotSensitive                     // take it off __sensitive
)

// SetRequest is one `envinit secrets set`.
type SetRequest struct {
	Target    Target
	Key       string
	Sensitive Sensitivity
	// Literal stores the value so that it resolves to exactly its bytes:
	// every "#{" is written "##{" (resolve.Escape).
	Literal bool
	// Value returns the value to store. It is called once every check
	// that does not need it has passed, so a prompt comes after them.
	Value func() (string, error)
	Options
}

// Set stores one key's value and keeps __sensitive right, unless that
// would make a service's next start fail.
func Set(ctx context.Context, st Store, r SetRequest) (*Result, error) {
	t, key, owner := r.Target, r.Key, r.Target.owner()
	if why := resolve.CheckKey(key); why != "" && !r.Force {
		return nil, &resolve.KeyError{Where: t.String(), Key: key, Reason: why + ": nothing was written; choose another name (--force writes it, and the start refuses it)"}
	}
	env, before, err := read(ctx, st)
	if err != nil {
		return nil, err
	}
	asFile := files(before, t)
	change := func(v string) *impact.Change {
		c := &impact.Change{}
		c.Set(owner, key, resolve.NewValue(v))
		switch {
		case r.Sensitive == MakeSensitive, r.Sensitive == Keep && asFile[key]:
			c.SetSensitive(owner, key, true)
		case r.Sensitive == NotSensitive:
			c.SetSensitive(owner, key, false)
		}
		return c
	}
	if !r.Force {
		// What the key and its sensitivity break whatever the value is
		// refused before the value is asked for: a literal, which reads
		// nothing and cannot break more than the value will, stands in.
		// (Not what the change does to the variables: that depends on
		// the value's references.)
		if refused := refusal("secrets set", impact.Apply(before, change("x")), false); refused != nil {
			return nil, refused
		}
	}
	v, err := r.Value()
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, &resolve.ValueError{Where: t.Ref(key), Reason: "empty value, which SSM cannot store: pipe the value on stdin (printf %s VALUE | envinit secrets set ...), or run at a terminal to be prompted; to remove a key, use unset"}
	}
	if r.Literal {
		v = resolve.Escape(v)
	}
	plan := impact.Apply(before, change(v))
	r.declassify = r.Sensitive == NotSensitive
	forced, err := commit(ctx, st, env.Prefix, "secrets set", plan, r.Options,
		[]impact.Write{{Owner: owner, Key: key, Value: resolve.NewValue(v)}})
	if err != nil {
		return nil, err
	}
	verb := "set"
	if !plan.Changed() && r.KMSKeyID == "" {
		verb = "unchanged:"
	}
	line := keyLine(t, key, verb, listed(before, owner, key) || asFile[key], listed(plan.After, owner, key))
	return newResult(plan, forced, t.Alias, sameKey(t, key), line), nil
}

// files are the keys service t's app gets as files (KEY_FILE), by its own
// __sensitive, an import's, or a reference to a sensitive value: a key
// set without --sensitive or --no-sensitive keeps what the app gets, so
// these are listed in t's __sensitive when set. None for the globals,
// whose sensitivity is their own list.
func files(e *impact.Env, t Target) map[string]bool {
	out := map[string]bool{}
	if t.Global {
		return out
	}
	keys, _ := e.View(t.Alias)
	for _, k := range keys {
		if k.Exposure == impact.AsFile {
			out[k.Key] = true
		}
	}
	return out
}

// sameKey says which export change a line about t's key states already.
func sameKey(t Target, key string) func(alias, k string) bool {
	return func(alias, k string) bool { return !t.Global && alias == t.Alias && k == key }
}

// keyLine is what set or import did to one key, with its sensitivity.
func keyLine(t Target, key, verb string, was, now bool) string {
	s := verb + " " + t.Ref(key)
	gets := "the container gets " + key + "_FILE"
	if t.Global {
		gets = "a value that references it goes to a file"
	}
	switch {
	case now && !was:
		s += " (now sensitive: " + gets + ")"
	case now:
		s += " (sensitive: " + gets + ")"
	case was && t.Global:
		s += " (no longer sensitive)"
	case was:
		s += " (no longer sensitive: the container gets " + key + ")"
	}
	return s
}

// Unset removes key, whatever its name (MY-KEY, which another tool may
// have written and no start accepts, included), and takes it off
// __sensitive unless the name still reaches the service through an
// import. The value goes first, then __sensitive: a failure in between
// leaves a listed name with no key, which stops a start, never an
// unlisted value.
func Unset(ctx context.Context, st Store, t Target, key string, o Options) (*Result, error) {
	if key == resolve.SensitiveKey {
		return nil, &UsageError{"__sensitive is kept by set --sensitive and --no-sensitive: use those"}
	}
	env, before, err := read(ctx, st)
	if err != nil {
		return nil, err
	}
	return unset(ctx, st, env.Prefix, before, t, key, o)
}

func unset(ctx context.Context, st Store, prefix string, before *impact.Env, t Target, key string, o Options) (*Result, error) {
	owner := t.owner()
	if _, ok := before.Get(owner, key); !ok {
		if !listed(before, owner, key) {
			return nil, noKey(t, before, key)
		}
		// A name __sensitive lists that is no key: taken off the list.
		c := &impact.Change{}
		c.SetSensitive(owner, key, false)
		plan := impact.Apply(before, c)
		forced, err := commit(ctx, st, prefix, "secrets unset", plan, o, nil)
		if err != nil {
			return nil, err
		}
		return newResult(plan, forced, t.Alias, nil, "unset "+t.Ref(key)+" (from __sensitive: there is no such key)"), nil
	}
	c := &impact.Change{}
	c.Unset(owner, key)
	plan := impact.Apply(before, c)
	unlisted := listed(before, owner, key) && (t.Global || dangles(plan.After, t.Alias, key))
	if unlisted {
		c.SetSensitive(owner, key, false)
		plan = impact.Apply(before, c)
	}
	forced, err := commit(ctx, st, prefix, "secrets unset", plan, o, nil)
	if err != nil {
		return nil, err
	}
	line := "unset " + t.Ref(key)
	if unlisted {
		line += " (and from __sensitive)"
	}
	return newResult(plan, forced, t.Alias, sameKey(t, key), line), nil
}

// dangles reports whether alias's __sensitive lists key while no key of
// that name reaches it, which fails its start.
func dangles(e *impact.Env, alias, key string) bool {
	for _, err := range e.Start(alias).Problems {
		var ke *resolve.KeyError
		if errors.As(err, &ke) && ke.Where == "$"+alias+"/"+resolve.SensitiveKey && ke.Key == key {
			return true
		}
	}
	return false
}

// UnsetName removes the parameter name, given in full: a key of a
// service or a global, as Unset does, or a name under the prefix that no
// start reads (a stray: nested, or under an alias no start can name),
// which goes without an impact check, since nothing reads it.
func UnsetName(ctx context.Context, st Store, name string, o Options) (*Result, error) {
	env, before, err := read(ctx, st)
	if err != nil {
		return nil, err
	}
	t, key, stray, err := placeName(env, name)
	if err != nil {
		return nil, err
	}
	if stray == nil {
		if key == resolve.SensitiveKey {
			return nil, &UsageError{"__sensitive is kept by set --sensitive and --no-sensitive: use those"}
		}
		return unset(ctx, st, env.Prefix, before, t, key, o)
	}
	if err := st.Delete(ctx, name); err != nil {
		return nil, err
	}
	return &Result{Lines: []string{"unset " + name + " (no start read it: " + stray.Why + ")"}}, nil
}

// placeName finds a full parameter name in env: a service's or the
// globals' key, or a stray.
func placeName(env *fetch.Environment, name string) (t Target, key string, stray *fetch.Stray, err error) {
	alias, key, why := fetch.Place(env.Prefix, name)
	if why == "" {
		return Target{Alias: alias, Global: alias == ""}, key, nil, nil
	}
	if !strings.HasPrefix(name, env.Prefix+"/") {
		return t, "", nil, &UsageError{"--name must be a parameter under the prefix " + env.Prefix + "/ (ENVINIT_PREFIX)"}
	}
	i := slices.IndexFunc(env.Strays, func(s fetch.Stray) bool { return s.Name == name })
	if i < 0 {
		return t, "", nil, &resolve.KeyError{Where: env.Prefix + "/", Key: name, Reason: "no such parameter (envinit secrets list shows the names no start reads)"}
	}
	return t, "", &env.Strays[i], nil
}

// ImportFrom sets __import_svc of t to aliases ("$a, $b"), replacing the
// list, unless that breaks a start: an alias with no secrets, a cycle.
func ImportFrom(ctx context.Context, st Store, t Target, aliases []string, o Options) (*Result, error) {
	if t.Global {
		return nil, &UsageError{"--global does not apply here: imports are a service's"}
	}
	var entries []string
	for _, a := range aliases {
		alias := strings.TrimPrefix(a, "$")
		switch {
		case !resolve.ValidAlias(alias):
			return nil, &UsageError{fmt.Sprintf("%q is not a service alias", a)}
		case alias == t.Alias:
			return nil, &UsageError{"a service cannot import itself"}
		case slices.Contains(entries, "$"+alias):
			return nil, &UsageError{fmt.Sprintf("%s is given twice", alias)}
		}
		entries = append(entries, "$"+alias)
	}
	env, before, err := read(ctx, st)
	if err != nil {
		return nil, err
	}
	c := &impact.Change{}
	c.SetImports(t.Alias, entries...)
	plan := impact.Apply(before, c)
	forced, err := commit(ctx, st, env.Prefix, "secrets import-from", plan, o, nil)
	if err != nil {
		return nil, err
	}
	line := fmt.Sprintf("%s imports %s (later ones override earlier ones; its own keys override them all)", t, strings.Join(entries, ", "))
	return newResult(plan, forced, t.Alias, nil, line), nil
}

// CopyRequest is one `envinit secrets copy`.
type CopyRequest struct {
	From, To string
	// Replace lets To be a service that has parameters already: it
	// becomes an exact copy, its keys From lacks removed.
	Replace bool
	Options
}

// Copy makes service To an exact copy of service From as stored: the same
// keys with the same raw values, __import_svc and __sensitive included, so
// that it resolves as From does. It is impact-checked like every write.
func Copy(ctx context.Context, st Store, r CopyRequest) (*Result, error) {
	if r.From == r.To {
		return nil, &UsageError{"SRC and DST are the same service"}
	}
	env, before, err := read(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(before.Keys(r.From)) == 0 {
		return nil, &resolve.NoSecretsError{Alias: r.From}
	}
	if n := len(before.Keys(r.To)); n > 0 && !r.Replace {
		return nil, &RefusedError{Op: "secrets copy", Summary: fmt.Sprintf("$%s already has %s", r.To, plural(n, "parameter")),
			hints: []string{fmt.Sprintf("--replace makes $%s an exact copy of $%s: its keys $%s lacks are removed", r.To, r.From, r.From)}}
	}
	c := &impact.Change{}
	c.Copy(r.From, r.To)
	plan := impact.Apply(before, c)
	var rewrite []impact.Write
	for _, k := range plan.After.Keys(r.To) {
		p, _ := plan.After.Get(r.To, k)
		rewrite = append(rewrite, impact.Write{Owner: r.To, Key: k, Value: p.Value})
	}
	forced, err := commit(ctx, st, env.Prefix, "secrets copy", plan, r.Options, rewrite)
	if err != nil {
		return nil, err
	}
	written, removed := map[string]bool{}, 0
	for _, w := range plan.Writes() {
		if w.Delete {
			removed++
		} else {
			written[w.Key] = true // __sensitive may be written twice
		}
	}
	line := fmt.Sprintf("copied $%s to $%s: %s, %d written, %d removed", r.From, r.To, plural(len(plan.After.Keys(r.To)), "parameter"), len(written), removed)
	return newResult(plan, forced, r.To, nil, line), nil
}
