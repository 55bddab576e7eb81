// Package impact tells what the store's data does to the services that
// start from it, before anything is written: whether a service's next
// start fails and why (Start, the one definition envinit check and the
// write tools share), what a change would break or fix and which
// variables it would move between KEY and KEY_FILE (Apply), and a digest
// of everything a service's start reads (Fingerprint).
//
// It is pure: no network, no files, no clock. It works on an Env, a
// snapshot of one environment's parameters (fetch's Environment, as read
// by the tools), which it serves to resolve's Gather as the entrypoint's
// store would, so every verdict is the entrypoint's own. Nothing it
// returns holds a value: problems name keys, services and references.
package impact

import (
	"context"
	"errors"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

// Outcome is what a service's next start would make of the store.
type Outcome struct {
	Alias string
	// Graph is what the start read.
	Graph *resolve.Graph
	// Result is the resolved environment; nil when there are Problems.
	Result *resolve.Result
	// Problems are every reason the start fails, in a deterministic order;
	// each matches resolve.ErrData (exit 65) and holds no value.
	Problems []error
}

// OK reports whether the start would succeed.
func (o *Outcome) OK() bool { return len(o.Problems) == 0 }

// Start resolves service alias from src exactly as the entrypoint does —
// resolve.Gather, resolve.Resolve, then execve.BuildEnv's checks of the
// final environment (a sensitive KEY whose KEY_FILE is also a secret) —
// without the container's own environment, which the store's tools do not
// have, and reports every problem of the data. err is a failure to read
// src (the store's availability, never its data).
func Start(ctx context.Context, src resolve.Source, alias string) (*Outcome, error) {
	g, err := resolve.Gather(ctx, src, alias, nil)
	if err != nil {
		return nil, err
	}
	o := &Outcome{Alias: alias, Graph: g}
	res, err := resolve.Resolve(g, alias, nil)
	if err != nil {
		o.Problems = unjoin(err)
		return o, nil
	}
	if o.Problems = conflicts(res); len(o.Problems) == 0 {
		o.Result = res
	}
	return o, nil
}

// conflicts returns the problems only BuildEnv finds, all of them:
// BuildEnv stops at the first, so the key it names is set aside and it
// runs again. They need the resolved values, so they show once the rest
// of the data resolves.
func conflicts(res *resolve.Result) []error {
	secrets := res.Secrets
	var errs []error
	for range len(secrets) + 1 {
		// The directory is a placeholder: nothing is written.
		_, _, err := execve.BuildEnv(execve.Env{Secrets: secrets, Override: true, Dir: "/run/secrets"})
		var ce *execve.ConflictError
		if !errors.As(err, &ce) {
			if err != nil {
				errs = append(errs, err)
			}
			break
		}
		errs = append(errs, err)
		for i, s := range secrets {
			if s.Key == ce.Key {
				secrets = append(secrets[:i:i], secrets[i+1:]...)
				break
			}
		}
	}
	return errs
}

// unjoin lists the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}
