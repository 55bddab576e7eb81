// Package check is the one definition of "this service's start fails
// because of the store's data": what envinit check reports, and what a
// tool that changes the store must not bring about. It resolves a service
// exactly as a start does, from the store alone (no container
// environment, no secrets directory), and collects every problem.
package check

import (
	"context"
	"errors"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

// Report is what checking one service found.
type Report struct {
	Graph *resolve.Graph
	// Result is the resolved service; nil when the resolver found
	// problems.
	Result *resolve.Result
	// Problems are every reason the start would fail, each matching
	// resolve.ErrData; none when it would start.
	Problems []error
}

// Service reads alias and everything it reaches from src and reports
// every problem of its data. err is a failure to read the store, not a
// problem of the data.
func Service(ctx context.Context, src resolve.Source, alias string) (*Report, error) {
	g, err := resolve.Gather(ctx, src, alias, nil)
	if err != nil {
		return nil, err
	}
	res, err := resolve.Resolve(g, alias, nil)
	if err != nil {
		return &Report{Graph: g, Problems: unjoin(err)}, nil
	}
	return &Report{Graph: g, Result: res, Problems: Conflicts(res)}, nil
}

// Conflicts returns the problems only BuildEnv finds (a sensitive KEY
// whose KEY_FILE is also a secret), all of them: BuildEnv stops at the
// first, so the key it names is set aside and it runs again. They need the
// resolved values, so they show once the rest of the data resolves.
func Conflicts(res *resolve.Result) []error {
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
