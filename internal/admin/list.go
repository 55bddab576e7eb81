package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/resolve"
)

// Get returns key's value as stored, references unresolved, whatever its
// name (MY-KEY included).
func Get(ctx context.Context, rd Reader, t Target, key string) (resolve.Value, error) {
	_, e, err := read(ctx, rd)
	if err != nil {
		return resolve.Value{}, err
	}
	p, ok := e.Get(t.owner(), key)
	if !ok {
		return resolve.Value{}, noKey(t, e, key)
	}
	return p.Value, nil
}

// GetName returns the value of the parameter name, given in full. A name
// no start reads (a stray) is not read: the tools read only what a start
// can, and its value may be another application's.
func GetName(ctx context.Context, rd Reader, name string) (resolve.Value, error) {
	env, e, err := read(ctx, rd)
	if err != nil {
		return resolve.Value{}, err
	}
	t, key, stray, err := placeName(env, name)
	switch {
	case err != nil:
		return resolve.Value{}, err
	case stray != nil:
		return resolve.Value{}, &resolve.KeyError{Where: env.Prefix + "/", Key: name, Reason: "no start reads it (" + stray.Why + "), so envinit does not read its value: aws ssm get-parameter --with-decryption --name NAME shows it"}
	}
	p, ok := e.Get(t.owner(), key)
	if !ok {
		return resolve.Value{}, noKey(t, e, key)
	}
	return p.Value, nil
}

// Listing is what `envinit secrets list SERVICE` (or --global) shows:
// each key as the service's start sees it, never a value.
type Listing struct {
	Target Target
	Keys   []ListedKey
	// Imports are the "$alias" entries of __import_svc; ImportsMalformed
	// says the list is something else, and is then not shown: it may be
	// a secret set by mistake.
	Imports          []string
	ImportsMalformed bool
	// Problems are why the service's start fails (each names what to
	// fix); none when it starts. Variables are then unknown.
	Problems []error
}

// ListedKey is one line of a Listing.
type ListedKey struct {
	Key   string
	Owner string // the service that stores it: the target, or one it imports; "" for a global
	// Variable is what the app gets: KEY, or KEY_FILE for a sensitive
	// key; "" when the key is not exported (a special key, or a start
	// that fails).
	Variable string
	Note     string // why it is sensitive, or what is wrong with it
	Version  int64  // 0: a store without versions (a file)
	Modified time.Time
	ReadBy   []string // a global's: the services whose start reads it
}

// List reads t's keys. A service with no parameters is an error; the
// globals may have none (Keys is then empty).
func List(ctx context.Context, rd Reader, t Target) (*Listing, error) {
	_, e, err := read(ctx, rd)
	if err != nil {
		return nil, err
	}
	if t.Global {
		return listGlobals(e), nil
	}
	if len(e.Keys(t.Alias)) == 0 {
		return nil, &resolve.NoSecretsError{Alias: t.Alias}
	}
	views, o := e.View(t.Alias)
	l := &Listing{Target: t, Problems: o.Problems}
	has := map[string]bool{}
	for _, kv := range views {
		has[kv.Key] = true
		k := ListedKey{Key: kv.Key, Owner: kv.Owner, Variable: kv.Exposure.Variable(kv.Key), Version: kv.Param.Version, Modified: kv.Param.Modified}
		raw := kv.Param.Value.Reveal()
		switch {
		case kv.Key == resolve.ImportKey:
			if imports, ok := parseImports(raw); ok {
				l.Imports = imports
				k.Note = "imports " + strings.Join(imports, ", ")
			} else {
				l.ImportsMalformed = true
				k.Note = "malformed (envinit check explains; envinit secrets import-from " + t.Alias + " ALIAS... rewrites it)"
			}
		case kv.Key == resolve.SensitiveKey:
			if names, ok := keyNames(raw); ok {
				k.Note = "lists " + strings.Join(names, ", ")
			} else {
				k.Note = "malformed (envinit check explains)"
			}
		case resolve.CheckKey(kv.Key) != "":
			k.Note = "no start takes it: " + resolve.CheckKey(kv.Key) + " (envinit secrets unset " + targetArgs(t, kv.Key) + " removes it)"
		case kv.Exposure == impact.AsFile:
			k.Note = "sensitive: " + kv.Why
		}
		l.Keys = append(l.Keys, k)
	}
	own, _ := e.Get(t.Alias, resolve.SensitiveKey)
	if names, ok := keyNames(own.Value.Reveal()); ok {
		for _, n := range names {
			if !has[n] {
				l.Keys = append(l.Keys, ListedKey{Key: n, Note: "listed in __sensitive, but no key of that name reaches " + t.String() + ": its start fails"})
			}
		}
	}
	return l, nil
}

// listGlobals lists the globals, each with the services that read it.
func listGlobals(e *impact.Env) *Listing {
	readBy := map[string][]string{}
	for _, alias := range e.Services() {
		_, globals := e.Reads(alias)
		for _, g := range globals {
			readBy[g] = append(readBy[g], alias)
		}
	}
	l := &Listing{Target: Target{Global: true}}
	for _, key := range e.Keys(impact.Global) {
		p, _ := e.Get(impact.Global, key)
		k := ListedKey{Key: key, Version: p.Version, Modified: p.Modified, ReadBy: readBy[key]}
		switch {
		case key == resolve.SensitiveKey:
			if names, ok := keyNames(p.Value.Reveal()); ok {
				k.Note = "lists " + strings.Join(names, ", ")
			} else {
				k.Note = "malformed (envinit check explains)"
			}
		case resolve.CheckKey(key) != "":
			k.Note = "no reference can name it: " + resolve.CheckKey(key) + " (envinit secrets unset " + targetArgs(l.Target, key) + " removes it)"
		case listed(e, impact.Global, key):
			k.Note = "sensitive: listed in __sensitive (a value that references it goes to a file)"
		}
		l.Keys = append(l.Keys, k)
	}
	return l
}

// parseImports returns the "$alias" entries of an __import_svc value, and
// whether every entry is one.
func parseImports(v string) ([]string, bool) {
	toks := resolve.SplitList(v)
	for _, tok := range toks {
		if a, ok := strings.CutPrefix(tok, "$"); !ok || !resolve.ValidAlias(a) {
			return nil, false
		}
	}
	return toks, len(toks) > 0
}

// keyNames returns the entries of a __sensitive value, and whether every
// one is a name (a value set there by mistake is not printed).
func keyNames(v string) ([]string, bool) {
	toks := resolve.SplitList(v)
	for _, tok := range toks {
		if !dotenv.ValidName(tok) {
			return nil, false
		}
	}
	return toks, len(toks) > 0
}

// String is the listing as list prints it: a table, then why the start
// fails, if it does.
func (l *Listing) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	if l.Target.Global {
		fmt.Fprintln(tw, "KEY\tVERSION\tMODIFIED\tREAD BY\tNOTE")
		for _, k := range l.Keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Key, version(k.Version), modified(k.Modified), orDash(strings.Join(k.ReadBy, ",")), k.Note)
		}
	} else {
		fmt.Fprintln(tw, "KEY\tAPP GETS\tFROM\tVERSION\tMODIFIED\tNOTE")
		for _, k := range l.Keys {
			from := "-"
			switch {
			case k.Owner == l.Target.Alias:
				from = "own"
			case k.Owner != "":
				from = "$" + k.Owner
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Key, orDash(k.Variable), from, version(k.Version), modified(k.Modified), k.Note)
		}
	}
	tw.Flush()
	if len(l.Problems) > 0 {
		fmt.Fprintf(&b, "the start of %s fails, so no key reaches the app (envinit check %s):\n", l.Target, l.Target.Alias)
		for _, p := range l.Problems {
			fmt.Fprintf(&b, "  %s\n", oneLine(p))
		}
	}
	return trimLines(b.String())
}

// trimLines drops the white space tabwriter leaves after an empty last
// column.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func version(v int64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

func modified(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// Overview is what `envinit secrets list` shows of a whole environment:
// its services and globals with counts, and the names no start reads.
type Overview struct {
	Prefix   string
	Services []ServiceSummary
	// Globals counts the globals; GlobalsSensitive those listed in the
	// globals' __sensitive.
	Globals, GlobalsSensitive int
	Strays                    []fetch.Stray
}

// ServiceSummary is one service of an Overview.
type ServiceSummary struct {
	Alias string
	Keys  int // its own parameters, the special keys left out
	// Variables and Files count what its start gives the app (own and
	// imported keys): KEY variables, and KEY_FILE for sensitive ones.
	Variables, Files int
	Imports          []string
	Problems         int // why its start fails; Variables and Files are then 0
}

// ListAll reads the whole environment.
func ListAll(ctx context.Context, rd Reader) (*Overview, error) {
	env, e, err := read(ctx, rd)
	if err != nil {
		return nil, err
	}
	ov := &Overview{Prefix: env.Prefix, Strays: env.Strays}
	for _, alias := range e.Services() {
		s := ServiceSummary{Alias: alias}
		for _, k := range e.Keys(alias) {
			if !special(k) {
				s.Keys++
			}
		}
		if p, ok := e.Get(alias, resolve.ImportKey); ok {
			s.Imports, _ = parseImports(p.Value.Reveal())
		}
		o := e.Start(alias)
		s.Problems = len(o.Problems)
		if o.Result != nil {
			vars, files := o.Result.Exported()
			s.Variables, s.Files = len(vars), len(files)
		}
		ov.Services = append(ov.Services, s)
	}
	for _, k := range e.Keys(impact.Global) {
		if !special(k) {
			ov.Globals++
			if listed(e, impact.Global, k) {
				ov.GlobalsSensitive++
			}
		}
	}
	return ov, nil
}

func (ov *Overview) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tKEYS\tAPP GETS\tIMPORTS\tSTART")
	for _, s := range ov.Services {
		start, gets := "ok", fmt.Sprintf("%d (%d as files)", s.Variables+s.Files, s.Files)
		if s.Problems > 0 {
			start, gets = fmt.Sprintf("fails: %s (envinit check %s)", plural(s.Problems, "problem"), s.Alias), "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Alias, s.Keys, gets, orDash(strings.Join(s.Imports, ",")), start)
	}
	tw.Flush()
	fmt.Fprintf(&b, "globals: %d (%d sensitive)\n", ov.Globals, ov.GlobalsSensitive)
	if len(ov.Strays) > 0 {
		fmt.Fprintf(&b, "%s under %s/ that no start reads (envinit secrets unset --name NAME removes one):\n", plural(len(ov.Strays), "parameter"), ov.Prefix)
		tw = tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		for _, s := range ov.Strays {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Why)
		}
		tw.Flush()
	}
	return trimLines(b.String())
}

// Found is what `envinit secrets find KEY` shows: where a key is defined,
// which values reference it, and which services' apps get it.
type Found struct {
	Key     string
	Defined []Definition
	Refs    []Reference
	Gets    []Getter
}

// Definition is a parameter named KEY: a global ("" Owner) or a service's.
type Definition struct {
	Owner     string
	Version   int64
	Modified  time.Time
	Sensitive bool // listed in its owner's __sensitive
}

// Reference is a value that references KEY.
type Reference struct {
	Where   string // $web/DSN
	Ref     string // $/DB_HOST or $api/DB_HOST
	Missing bool   // the key it names does not exist
}

// Getter is a service whose app gets KEY.
type Getter struct {
	Alias, Variable string
	Owner           string // the service that stores it
	Why             string // what makes it sensitive, "" for a variable
}

// Find finds key everywhere under the prefix. A key that nothing
// defines or references is an error.
func Find(ctx context.Context, rd Reader, key string) (*Found, error) {
	_, e, err := read(ctx, rd)
	if err != nil {
		return nil, err
	}
	f := &Found{Key: key}
	owners := append([]string{impact.Global}, e.Services()...)
	for _, owner := range owners {
		if p, ok := e.Get(owner, key); ok {
			f.Defined = append(f.Defined, Definition{Owner: owner, Version: p.Version, Modified: p.Modified, Sensitive: listed(e, owner, key)})
		}
		for _, k := range e.Keys(owner) {
			if special(k) {
				continue
			}
			p, _ := e.Get(owner, k)
			where := "$" + owner + "/" + k
			refs, _ := resolve.References(where, p.Value.Reveal()) // a malformed one is check's to report
			for _, r := range refs {
				if r.Key == key {
					_, exists := e.Get(r.Alias, r.Key)
					f.Refs = append(f.Refs, Reference{Where: where, Ref: r.String(), Missing: !exists})
				}
			}
		}
	}
	for _, alias := range e.Services() {
		views, _ := e.View(alias)
		for _, kv := range views {
			if kv.Key == key && kv.Exposure != impact.NotExported {
				f.Gets = append(f.Gets, Getter{Alias: alias, Variable: kv.Exposure.Variable(key), Owner: kv.Owner, Why: kv.Why})
			}
		}
	}
	if len(f.Defined)+len(f.Refs) == 0 {
		return nil, &resolve.KeyError{Where: "the services and globals", Key: key, Reason: "no such key, and no reference to one (envinit secrets list shows the services)"}
	}
	return f, nil
}

func (f *Found) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DEFINED\tVERSION\tMODIFIED\tNOTE")
	for _, d := range f.Defined {
		note := ""
		if d.Sensitive {
			note = "listed in __sensitive"
		}
		fmt.Fprintf(tw, "$%s/%s\t%s\t%s\t%s\n", d.Owner, f.Key, version(d.Version), modified(d.Modified), note)
	}
	if len(f.Defined) == 0 {
		fmt.Fprintln(tw, "(nowhere)\t\t\t")
	}
	tw.Flush()
	if len(f.Refs) > 0 {
		b.WriteString("\nREFERENCED BY\n")
		tw = tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		for _, r := range f.Refs {
			note := ""
			if r.Missing {
				note = "missing: that start fails"
			}
			fmt.Fprintf(tw, "%s\t#{%s}\t%s\n", r.Where, r.Ref, note)
		}
		tw.Flush()
	}
	if len(f.Gets) > 0 {
		b.WriteString("\nAPPS THAT GET IT\n")
		tw = tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		for _, g := range f.Gets {
			from := "own"
			if g.Owner != g.Alias {
				from = "from $" + g.Owner
			}
			note := from
			if g.Why != "" {
				note += "; sensitive: " + g.Why
			}
			fmt.Fprintf(tw, "$%s\t%s\t%s\n", g.Alias, g.Variable, note)
		}
		tw.Flush()
	}
	return trimLines(b.String())
}

// Fingerprints returns the fingerprint of each service of aliases (every
// service, sorted, when there are none), from one read of the
// environment. A service with no parameters is an error, and so is an
// environment with none: a fingerprint of a misspelt alias would be a
// digest of nothing, and a wrong prefix would deploy nothing.
func Fingerprints(ctx context.Context, rd Reader, aliases []string) ([]impact.Fingerprint, error) {
	env, e, err := read(ctx, rd)
	if err != nil {
		return nil, err
	}
	if aliases == nil {
		if aliases = e.Services(); len(aliases) == 0 {
			return nil, &NoServicesError{Prefix: env.Prefix}
		}
	}
	var missing []error
	var out []impact.Fingerprint
	for _, alias := range aliases {
		if len(e.Keys(alias)) == 0 {
			missing = append(missing, &resolve.NoSecretsError{Alias: alias})
			continue
		}
		out = append(out, e.Fingerprint(alias))
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	return out, nil
}
