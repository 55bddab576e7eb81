package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/resolve"
)

// MaxImportSize bounds a dotenv file: far more than any service's keys.
const MaxImportSize = 4 << 20

// ImportRequest is one `envinit secrets import`.
type ImportRequest struct {
	Target Target
	Name   string // the file's name, for messages; "-" for stdin
	Data   []byte
	// Sensitive are keys of the file to make sensitive; the others keep
	// their sensitivity (a new key is not sensitive).
	Sensitive []string
	KMSKeyID  string
}

// Imported is what an import did.
type Imported struct {
	Target    Target
	Changes   []Change // keys set, or whose sensitivity changed
	Keys      int      // in the file
	Set       int      // values written
	Sensitive int
}

func (r *Imported) String() string {
	var b strings.Builder
	for _, c := range r.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "imported %d keys into %s: %d set, %d unchanged, %d sensitive\n", r.Keys, r.Target, r.Set, r.Keys-r.Set, r.Sensitive)
	return b.String()
}

// ImportError is every problem of a dotenv file, one per line; nothing was
// written. It matches resolve.ErrData.
type ImportError struct {
	Name string
	Errs []error
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secrets import: %s: nothing was written; fix these and import again:", e.Name)
	for _, err := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *ImportError) Is(target error) bool { return target == resolve.ErrData }

// Import sets every KEY=VALUE of a dotenv file. Every line is checked
// before anything is written, and every problem reported by line number,
// never by content; values already stored are not written again.
func Import(ctx context.Context, st Store, r ImportRequest) (*Imported, error) {
	pairs, errs := checkPairs(r.Data)
	inFile := map[string]bool{}
	for _, p := range pairs {
		inFile[p.Key] = true
	}
	makeSensitive := map[string]bool{}
	for _, k := range r.Sensitive {
		if !inFile[k] {
			errs = append(errs, &resolve.KeyError{Where: "--sensitive", Key: k, Reason: "not a key of " + r.Name})
		}
		makeSensitive[k] = true
	}
	if len(errs) > 0 {
		return nil, &ImportError{Name: r.Name, Errs: errs}
	}
	if len(pairs) == 0 {
		return nil, &ImportError{Name: r.Name, Errs: []error{errors.New("no KEY=VALUE line: nothing to import")}}
	}

	t := r.Target
	kv, err := st.Read(ctx, t.dir(st))
	if err != nil {
		return nil, err
	}
	sens := sensitiveSet(kv)
	var secrets []resolve.Secret
	for _, p := range pairs {
		want := sens[p.Key] || makeSensitive[p.Key]
		if err := fileConflict(t, kv, sens, p.Key, want); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", p.Line, err))
		}
		secrets = append(secrets, resolve.Secret{Key: p.Key, Value: resolve.NewValue(p.Value), Sensitive: want})
	}
	if len(errs) > 0 {
		return nil, &ImportError{Name: r.Name, Errs: errs}
	}
	if err := write(ctx, st, t, kv, secrets, r.KMSKeyID); err != nil {
		return nil, err
	}
	res := &Imported{Target: t, Keys: len(secrets)}
	for _, sec := range secrets {
		if sec.Sensitive {
			res.Sensitive++
		}
		old, ok := kv[sec.Key]
		unchanged := ok && old.Reveal() == sec.Value.Reveal() && r.KMSKeyID == ""
		if !unchanged {
			res.Set++
		}
		if !unchanged || sens[sec.Key] != sec.Sensitive {
			c := Change{Ref: t.Ref(sec.Key), Key: sec.Key, Verb: "set", WasSensitive: sens[sec.Key], Sensitive: sec.Sensitive}
			if unchanged {
				c.Verb = "unchanged:"
			}
			res.Changes = append(res.Changes, c)
		}
	}
	return res, nil
}

// checkPairs parses a dotenv file and refuses what the store may not hold:
// a key given twice, an empty value (SSM stores none), and the keys and
// values a start refuses. Problems are in line order.
func checkPairs(data []byte) ([]dotenv.Pair, []error) {
	parsed, errs := dotenv.Parse(data)
	var pairs []dotenv.Pair
	seen := map[string]int{}
	for _, p := range parsed {
		problem := func(key, reason string) {
			errs = append(errs, &dotenv.Error{Line: p.Line, Key: key, Reason: reason})
		}
		switch first, dup := seen[p.Key]; {
		case p.Value == "":
			problem("", "empty value, which SSM cannot store: leave the line out (or is it part of a multi-line value? quote that)")
		case dup:
			problem(p.Key, fmt.Sprintf("also on line %d: give it once", first))
		case resolve.CheckKey(p.Key) != "":
			problem(p.Key, resolve.CheckKey(p.Key))
		case resolve.CheckValue(p.Value) != "":
			problem(p.Key, resolve.CheckValue(p.Value))
		default:
			pairs = append(pairs, p)
		}
		if _, dup := seen[p.Key]; !dup {
			seen[p.Key] = p.Line
		}
	}
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
	return pairs, errs
}

func line(err error) int {
	var e *dotenv.Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}
