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

// Options are what every write takes.
type Options struct {
	// Force writes a change the impact check refuses (--force); the
	// Result then says what it broke.
	Force bool
	// KMSKeyID is the KMS key SSM encrypts with ("": the account's
	// aws/ssm key). When it is given, the values an action names are
	// written again even when unchanged, so that they are encrypted with
	// it.
	KMSKeyID string

	// declassify says the change makes a key not sensitive on purpose
	// (set --no-sensitive): the variables it moves from files to the
	// environment are what was asked.
	declassify bool
}

// RefusedError is a write refused before anything was written: what it
// would break, one line each, and what to do. It matches resolve.ErrData
// (exit 65); Unwrap gives the problems.
type RefusedError struct {
	Op      string // "secrets set"
	Summary string // why, in one line
	Lines   []string
	hints   []string
	errs    []error
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: refused, nothing was written: %s", e.Op, e.Summary)
	for _, l := range e.Lines {
		b.WriteString("\n  ")
		b.WriteString(l)
	}
	return b.String()
}

func (e *RefusedError) Hints() []string      { return e.hints }
func (e *RefusedError) Is(target error) bool { return target == resolve.ErrData }
func (e *RefusedError) Unwrap() []error      { return e.errs }

// refusal returns why plan must not be written without --force, or nil:
// a service it makes fail, a value or key no start can take, a service it
// removes (its last key goes: its next start fails with no secrets), and,
// with exposure, a variable it moves from a file to the environment.
func refusal(op string, plan *impact.Plan, exposure bool) *RefusedError {
	breaks, removes := plan.Breaks(), plan.Removes()
	var moves []string
	for _, imp := range plan.Services {
		for _, x := range imp.Exports {
			if exposure && x.Before == impact.AsFile && x.After == impact.AsVariable {
				moves = append(moves, fmt.Sprintf("$%s: %s would reach the environment (%s -> %s)", imp.Alias, x.Key, x.Before.Variable(x.Key), x.After.Variable(x.Key)))
			}
		}
	}
	if len(breaks) == 0 && len(plan.Invalid) == 0 && len(removes) == 0 && len(moves) == 0 {
		return nil
	}
	e := &RefusedError{Op: op}
	var why, aliases []string
	seen := map[string]bool{}
	for _, imp := range breaks {
		aliases = append(aliases, imp.Alias)
		for _, err := range imp.Broken {
			seen[oneLine(err)] = true
			e.Lines = append(e.Lines, "start of "+imp.Alias+": "+oneLine(err))
			e.errs = append(e.errs, &impact.StartError{Alias: imp.Alias, Err: err})
		}
	}
	literal, invalid := false, 0
	for _, err := range plan.Invalid {
		var se *resolve.SyntaxError
		literal = literal || errors.As(err, &se)
		e.errs = append(e.errs, err)
		if !seen[oneLine(err)] { // a service's start names it already
			e.Lines = append(e.Lines, oneLine(err))
			invalid++
		}
	}
	for _, alias := range removes {
		e.Lines = append(e.Lines, fmt.Sprintf("$%s: its last parameter goes, so its next start fails (service %s has no secrets)", alias, alias))
	}
	e.Lines = append(e.Lines, moves...)
	if len(aliases) > 0 {
		why = append(why, fmt.Sprintf("it would make the next start of %s fail (%s)", plural(len(aliases), "service"), strings.Join(aliases, ", ")))
	}
	switch {
	case invalid == 1:
		why = append(why, "it stores a value or key no start can take")
	case invalid > 1:
		why = append(why, fmt.Sprintf("it stores %d values or keys no start can take", invalid))
	}
	if len(removes) > 0 {
		why = append(why, fmt.Sprintf("it removes %s (%s)", plural(len(removes), "service"), strings.Join(removes, ", ")))
	}
	if len(moves) > 0 {
		why = append(why, fmt.Sprintf("it moves %s from a file to the environment", plural(len(moves), "sensitive variable")))
	}
	e.Summary = strings.Join(why, ", and ")
	if literal {
		e.hints = append(e.hints, `a value holds "#{" that is not a reference (#{$/KEY} or #{$ALIAS/KEY}): --literal stores it exactly as given ("#{" written as "##{")`)
	}
	if len(removes) > 0 {
		e.hints = append(e.hints, "to retire a service, that is what you want: add --force")
	}
	if len(moves) > 0 {
		e.hints = append(e.hints, "a value the app gets as a file leaves it only when its key is made not sensitive (envinit secrets set SERVICE KEY --no-sensitive), or with --force")
	}
	e.hints = append(e.hints, "fix what it names first (envinit check SERVICE shows a service's problems), or add --force to write it anyway")
	return e
}

// oneLine is an error's text on one line: some errors (a cycle's chain,
// a joined list) may span lines.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// commit writes plan unless it is refused (and not forced), in the plan's
// safe order, then puts again the keys of rewrite that it did not write,
// when a KMS key is given. It returns the refusal --force overrode.
func commit(ctx context.Context, st Store, prefix, op string, plan *impact.Plan, o Options, rewrite []impact.Write) (*RefusedError, error) {
	refused := refusal(op, plan, !o.declassify)
	if refused != nil && !o.Force {
		return nil, refused
	}
	writes := plan.Writes()
	if o.KMSKeyID != "" {
		for _, w := range rewrite {
			if !slices.ContainsFunc(writes, func(x impact.Write) bool { return x.Owner == w.Owner && x.Key == w.Key }) {
				writes = append(writes, w)
			}
		}
	}
	for i, w := range writes {
		name := fetch.Name(prefix, w.Owner, w.Key)
		var err error
		if w.Delete {
			err = st.Delete(ctx, name)
		} else {
			err = st.Put(ctx, name, w.Value, o.KMSKeyID)
		}
		if err != nil {
			if i > 0 {
				return nil, fmt.Errorf("%s: %d of %d writes were made before this failure, in an order that keeps every sensitive value listed; run the same command again to finish: %w", op, i, len(writes), err)
			}
			return nil, err
		}
	}
	return refused, nil
}

// Result is what a write did, for main to print: Lines on stdout, then
// Effects; Forced, when --force overrode a refusal, says what it broke.
type Result struct {
	Lines []string
	// Effects are what the change does to the services' next starts:
	// every variable that becomes sensitive or stops being (through
	// __sensitive or a reference), and the variables other services gain
	// or lose, the starts it fixes.
	Effects []string
	Forced  *RefusedError
	Plan    *impact.Plan
}

func (r *Result) String() string {
	var b strings.Builder
	for _, l := range slices.Concat(r.Lines, r.Effects) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// Broke returns, when --force overrode a refusal, what the change broke,
// one line each.
func (r *Result) Broke() []string {
	if r.Forced == nil {
		return nil
	}
	return r.Forced.Lines
}

// newResult is the Result of plan, written; skip says which export
// changes the action's own lines already state (owner and key).
func newResult(plan *impact.Plan, forced *RefusedError, target string, skip func(alias, key string) bool, lines ...string) *Result {
	r := &Result{Lines: lines, Forced: forced, Plan: plan}
	for _, imp := range plan.Services {
		for _, x := range imp.Exports {
			switch {
			case skip != nil && skip(imp.Alias, x.Key):
			case x.SensitivityChanged():
				r.Effects = append(r.Effects, "$"+imp.Alias+": "+x.String())
			case imp.Alias != target && !imp.Added && !imp.Removed:
				r.Effects = append(r.Effects, "$"+imp.Alias+": "+x.String())
			}
		}
		for _, err := range imp.Fixed {
			r.Effects = append(r.Effects, "$"+imp.Alias+": fixes "+oneLine(err))
		}
	}
	return r
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
