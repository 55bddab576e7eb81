// Package admin is what envinit secrets does to the store: set, get,
// list, unset, import and import-from, over a narrow Store (fetch.Writer,
// or a fake in tests). Each operation checks what a start would refuse
// before it writes anything, orders its writes so that a failure half-way
// never leaves a sensitive value unlisted, and returns a result that main
// prints. No result and no error holds a value, except Get's, which was
// asked for.
//
// The README's Operator tools section is the manual.
package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/envinit/envinit/internal/resolve"
)

// Store is what the secrets tool needs of the store.
type Store interface {
	ServiceDir(alias string) string
	GlobalDir() string
	// Read returns the parameters directly under dir, keyed by KEY.
	Read(ctx context.Context, dir string) (map[string]resolve.Value, error)
	// Put stores value as dir/key, encrypted with kmsKeyID ("": the
	// account's default key).
	Put(ctx context.Context, dir, key string, value resolve.Value, kmsKeyID string) error
	Delete(ctx context.Context, dir, key string) error
}

// ErrUsage is matched by the errors that are the command line's fault
// (exit 64): an argument or a combination of flags that cannot be right.
var ErrUsage = errors.New("bad command line")

// UsageError is a bad argument. It never quotes one: a value typed on the
// command line by mistake must not be echoed.
type UsageError struct{ Reason string }

func (e *UsageError) Error() string        { return e.Reason }
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// Target is what an action works on: a service, or the globals.
type Target struct {
	Global bool
	Alias  string
}

// ParseTarget checks a SERVICE argument.
func ParseTarget(alias string) (Target, error) {
	if !resolve.ValidAlias(alias) {
		return Target{}, &UsageError{fmt.Sprintf("%q is not a service alias: write it as ENVINIT_SERVICE takes it, e.g. svc-abc (no $)", alias)}
	}
	return Target{Alias: alias}, nil
}

// Ref names key in the notation of references and errors: $alias/KEY or $/KEY.
func (t Target) Ref(key string) string { return "$" + t.Alias + "/" + key }

func (t Target) String() string {
	if t.Global {
		return "the globals"
	}
	return "$" + t.Alias
}

func (t Target) dir(st Store) string {
	if t.Global {
		return st.GlobalDir()
	}
	return st.ServiceDir(t.Alias)
}

// CheckKeyArg refuses a KEY argument that is not a name, without quoting
// it: "KEY=VALUE" is a value typed on the command line.
func CheckKeyArg(key string) error {
	switch {
	case strings.Contains(key, "="):
		return &UsageError{"KEY=VALUE: the value is never taken from the command line (shell history and ps keep it): give KEY alone and pipe the value on stdin, or run at a terminal to be prompted"}
	case !validName(key):
		return &UsageError{"KEY is not a valid name ([A-Za-z_][A-Za-z0-9_]*)"}
	}
	return nil
}

func validName(k string) bool {
	return k != "" && strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// CheckValue returns why v cannot be stored, or nil: an empty value (SSM
// stores none) and what a start would refuse. where names the key.
func CheckValue(where, v string) error {
	if v == "" {
		return &resolve.ValueError{Where: where, Reason: "empty value, which SSM cannot store: pipe the value on stdin (printf %s VALUE | envinit secrets set ...), or run at a terminal to be prompted; to remove a key, use unset"}
	}
	if why := resolve.CheckValue(v); why != "" {
		return &resolve.ValueError{Where: where, Reason: why}
	}
	return nil
}

// PerCall gives every call to st its own timeout: an import is many calls.
func PerCall(st Store, timeout time.Duration) Store { return perCall{st, timeout} }

type perCall struct {
	Store
	timeout time.Duration
}

func (p perCall) Read(ctx context.Context, dir string) (map[string]resolve.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return p.Store.Read(ctx, dir)
}

func (p perCall) Put(ctx context.Context, dir, key string, value resolve.Value, kmsKeyID string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return p.Store.Put(ctx, dir, key, value, kmsKeyID)
}

func (p perCall) Delete(ctx context.Context, dir, key string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return p.Store.Delete(ctx, dir, key)
}

// Change is what set, unset or import did to one key.
type Change struct {
	Ref                     string // $api/KEY
	Key                     string
	Verb                    string // "set", "unchanged:", "unset"
	WasSensitive, Sensitive bool
}

func (c Change) String() string {
	if c.Verb == "unset" {
		if c.WasSensitive {
			return "unset " + c.Ref + " (and from __sensitive)"
		}
		return "unset " + c.Ref
	}
	s := c.Verb + " " + c.Ref
	switch {
	case c.Sensitive && !c.WasSensitive:
		s += " (now sensitive: the container gets " + c.Key + "_FILE)"
	case c.Sensitive:
		s += " (sensitive: the container gets " + c.Key + "_FILE)"
	case c.WasSensitive:
		s += " (no longer sensitive: the container gets " + c.Key + ")"
	}
	return s
}

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
	// Value returns the value to store. It is called once every check
	// that does not need it has passed, so a prompt comes after them.
	Value    func() (string, error)
	KMSKeyID string
}

// Set stores one key's value and keeps __sensitive right.
func Set(ctx context.Context, st Store, r SetRequest) (Change, error) {
	t, key := r.Target, r.Key
	if why := resolve.CheckKey(key); why != "" {
		return Change{}, &resolve.KeyError{Where: t.String(), Key: key, Reason: why + ": choose another name"}
	}
	kv, err := st.Read(ctx, t.dir(st))
	if err != nil {
		return Change{}, err
	}
	sens := sensitiveSet(kv)
	want := sens[key]
	switch r.Sensitive {
	case MakeSensitive:
		want = true
	case NotSensitive:
		want = false
	}
	if err := fileConflict(t, kv, sens, key, want); err != nil {
		return Change{}, err
	}
	v, err := r.Value()
	if err != nil {
		return Change{}, err
	}
	if err := CheckValue(t.Ref(key), v); err != nil {
		return Change{}, err
	}
	value := resolve.NewValue(v)
	if err := write(ctx, st, t, kv, []resolve.Secret{{Key: key, Value: value, Sensitive: want}}, r.KMSKeyID); err != nil {
		return Change{}, err
	}
	c := Change{Ref: t.Ref(key), Key: key, Verb: "set", WasSensitive: sens[key], Sensitive: want}
	if old, ok := kv[key]; ok && old.Reveal() == v && r.KMSKeyID == "" && sens[key] == want {
		c.Verb = "unchanged:"
	}
	return c, nil
}

// Get returns key's value as stored, references unresolved.
func Get(ctx context.Context, st Store, t Target, key string) (resolve.Value, error) {
	kv, err := st.Read(ctx, t.dir(st))
	if err != nil {
		return resolve.Value{}, err
	}
	v, ok := kv[key]
	if !ok {
		return resolve.Value{}, noKey(t, kv, key)
	}
	return v, nil
}

// noKey is the error for a key the target does not have.
func noKey(t Target, kv map[string]resolve.Value, key string) error {
	if len(kv) == 0 && !t.Global {
		return &resolve.NoSecretsError{Alias: t.Alias}
	}
	list := "envinit secrets list " + t.Alias
	if t.Global {
		list = "envinit secrets list --global"
	}
	return &resolve.KeyError{Where: t.String(), Key: key, Reason: "no such key (" + list + " shows the keys)"}
}

// Unset removes key, then drops it from __sensitive. The value goes first:
// a failure in between leaves a listed name with no key, which stops a
// start, rather than an unlisted value.
func Unset(ctx context.Context, st Store, t Target, key string) (Change, error) {
	if key == resolve.SensitiveKey {
		return Change{}, &UsageError{"__sensitive is kept by set --sensitive and --no-sensitive: use those"}
	}
	dir := t.dir(st)
	kv, err := st.Read(ctx, dir)
	if err != nil {
		return Change{}, err
	}
	if _, ok := kv[key]; !ok {
		return Change{}, noKey(t, kv, key)
	}
	if err := st.Delete(ctx, dir, key); err != nil {
		return Change{}, err
	}
	sens := sensitiveSet(kv)
	if err := putList(ctx, st, dir, kv[resolve.SensitiveKey].Reveal(), nil, []string{key}, ""); err != nil {
		return Change{}, fmt.Errorf("%s was removed, but not from __sensitive, so the service will not start: run the same command again: %w", t.Ref(key), err)
	}
	return Change{Ref: t.Ref(key), Key: key, Verb: "unset", WasSensitive: sens[key]}, nil
}

// ImportFrom sets __import_svc of t to aliases ("$a, $b"), replacing the
// list, after checking that each has secrets and is not t itself.
func ImportFrom(ctx context.Context, st Store, t Target, aliases []string) (string, error) {
	if t.Global {
		return "", &UsageError{"--global does not apply here: imports are a service's"}
	}
	var entries []string
	for _, a := range aliases {
		alias := strings.TrimPrefix(a, "$")
		switch {
		case !resolve.ValidAlias(alias):
			return "", &UsageError{fmt.Sprintf("%q is not a service alias", a)}
		case alias == t.Alias:
			return "", &UsageError{"a service cannot import itself"}
		case slices.Contains(entries, "$"+alias):
			return "", &UsageError{fmt.Sprintf("%s is given twice", alias)}
		}
		entries = append(entries, "$"+alias)
	}
	var missing []error
	for _, e := range entries {
		kv, err := st.Read(ctx, st.ServiceDir(e[1:]))
		if err != nil {
			return "", err
		}
		if len(kv) == 0 {
			missing = append(missing, &resolve.NoSecretsError{Alias: e[1:], Via: "to be imported by " + t.String()})
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("secrets import-from: nothing was written: set the services' secrets first, or check the aliases: %w", errors.Join(missing...))
	}
	list := strings.Join(entries, ", ")
	if err := st.Put(ctx, t.dir(st), resolve.ImportKey, resolve.NewValue(list), ""); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s imports %s (later ones override earlier ones; its own keys override them all)", t, list), nil
}

// write stores secrets, skipping values already stored (unless a KMS key
// is given: the value is then encrypted again with it), and brings
// __sensitive in line with their Sensitive, in the order that never leaves
// a sensitive value unlisted: keys becoming sensitive are listed before
// their values are written, keys ceasing to be are unlisted after.
func write(ctx context.Context, st Store, t Target, kv map[string]resolve.Value, secrets []resolve.Secret, kmsKeyID string) error {
	sens := sensitiveSet(kv)
	var add, remove []string
	for _, sec := range secrets {
		switch {
		case sec.Sensitive && !sens[sec.Key]:
			add = append(add, sec.Key)
		case !sec.Sensitive && sens[sec.Key]:
			remove = append(remove, sec.Key)
		}
	}
	dir := t.dir(st)
	list := kv[resolve.SensitiveKey].Reveal()
	if err := putList(ctx, st, dir, list, add, nil, kmsKeyID); err != nil {
		return err
	}
	if len(add) > 0 {
		list, _ = editList(list, add, nil)
	}
	written := 0
	for _, sec := range secrets {
		if old, ok := kv[sec.Key]; ok && old.Reveal() == sec.Value.Reveal() && kmsKeyID == "" {
			continue
		}
		if err := st.Put(ctx, dir, sec.Key, sec.Value, kmsKeyID); err != nil {
			if written > 0 {
				return fmt.Errorf("%d of the values were written before this failure, and __sensitive is up to date for all of them; run the same command again to finish: %w", written, err)
			}
			return err
		}
		written++
	}
	return putList(ctx, st, dir, list, nil, remove, kmsKeyID)
}

// putList writes __sensitive after adding and removing keys, deleting it
// when it becomes empty (SSM holds no empty value), and not at all when the
// set of keys does not change.
func putList(ctx context.Context, st Store, dir, list string, add, remove []string, kmsKeyID string) error {
	next, changed := editList(list, add, remove)
	switch {
	case !changed:
		return nil
	case next == "":
		return st.Delete(ctx, dir, resolve.SensitiveKey)
	}
	return st.Put(ctx, dir, resolve.SensitiveKey, resolve.NewValue(next), kmsKeyID)
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

// sensitiveSet is the keys __sensitive lists.
func sensitiveSet(kv map[string]resolve.Value) map[string]bool {
	set := map[string]bool{}
	for _, k := range resolve.SplitList(kv[resolve.SensitiveKey].Reveal()) {
		set[k] = true
	}
	return set
}

// fileConflict refuses what the entrypoint would: a sensitive KEY next to
// a key KEY_FILE.
func fileConflict(t Target, kv map[string]resolve.Value, sens map[string]bool, key string, sensitive bool) error {
	if _, ok := kv[key+"_FILE"]; sensitive && ok {
		return &resolve.KeyError{Where: t.String(), Key: key, Reason: fmt.Sprintf("cannot be sensitive while %s is a key too: the container's %s holds the file's path; rename or unset %s first", key+"_FILE", key+"_FILE", key+"_FILE")}
	}
	if base, ok := strings.CutSuffix(key, "_FILE"); ok && sens[base] {
		if _, exists := kv[base]; exists {
			return &resolve.KeyError{Where: t.String(), Key: key, Reason: fmt.Sprintf("%s is sensitive, so the container's %s holds its file's path; choose another name", base, key)}
		}
	}
	return nil
}
