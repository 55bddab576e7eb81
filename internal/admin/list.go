package admin

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/envinit/envinit/internal/resolve"
)

// Listing is what `envinit secrets list` shows of a target: its keys and
// their sensitivity, and its imports. Never a value.
type Listing struct {
	Target Target
	Dir    string
	Keys   []ListedKey
	// Imports are the "$alias" entries of __import_svc; ImportsMalformed
	// says the list is something else, and is then not shown: it may be
	// a secret set by mistake.
	Imports          []string
	ImportsMalformed bool
}

// ListedKey is one line of a Listing.
type ListedKey struct {
	Key  string
	Note string // "sensitive", "-", or what is wrong with it
}

// List reads t's keys. A service with no keys is an error; the globals may
// have none (Listing.Keys is then empty).
func List(ctx context.Context, st Store, t Target) (*Listing, error) {
	dir := t.dir(st)
	kv, err := st.Read(ctx, dir)
	if err != nil {
		return nil, err
	}
	if len(kv) == 0 && !t.Global {
		return nil, &resolve.NoSecretsError{Alias: t.Alias}
	}
	l := &Listing{Target: t, Dir: dir}
	sens := sensitiveSet(kv)
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		switch {
		case k == resolve.SensitiveKey || k == resolve.ImportKey:
		case strings.HasPrefix(k, "__"):
			l.Keys = append(l.Keys, ListedKey{k, "unknown special key (envinit check reports it)"})
		case sens[k]:
			l.Keys = append(l.Keys, ListedKey{k, "sensitive"})
		default:
			l.Keys = append(l.Keys, ListedKey{k, "-"})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sens)) {
		if _, own := kv[k]; !own {
			l.Keys = append(l.Keys, ListedKey{k, fmt.Sprintf("sensitive, not a key of %s (an imported key, or a typo: envinit check tells)", t)})
		}
	}
	if v, ok := kv[resolve.ImportKey]; ok {
		l.Imports, ok = parseImports(v.Reveal())
		l.ImportsMalformed = !ok
	}
	return l, nil
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

// String is the listing as list prints it: a key a line, then the imports.
func (l *Listing) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, k := range l.Keys {
		fmt.Fprintf(tw, "%s\t%s\n", k.Key, k.Note)
	}
	tw.Flush()
	switch {
	case l.ImportsMalformed:
		fmt.Fprintf(&b, "imports: malformed %s (envinit check explains; envinit secrets import-from %s ALIAS... rewrites it)\n", resolve.ImportKey, l.Target.Alias)
	case len(l.Imports) > 0:
		fmt.Fprintf(&b, "imports: %s\n", strings.Join(l.Imports, ", "))
	}
	return b.String()
}
