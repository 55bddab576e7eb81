package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

const checkHelp = `usage: envinit check [flags] [SERVICE...]

Resolves each SERVICE (default: ENVINIT_SERVICE, or --service) from the
store, exactly as the entrypoint would, and reports every problem it finds
at once, one line each on stdout: malformed and missing references, cycles,
missing services and imports, invalid, forbidden and unknown special keys,
bad values, a sensitive KEY whose KEY_FILE is also a secret. Meant for CI
before a deploy. Nothing is written and no value is printed.

It checks the store only: the container's own variables are not in the
store and CI does not have them (envinit render, run in the image, shows
them resolved). Nor does it look at ENVINIT_SECRETS_DIR: the directory is
the container's, and its first start checks it (exit 73).

exit codes: 0 all good ("ok: ..." per service); 65 problems in the data;
69, 75, 77, 78 as for the entrypoint (store unavailable, throttled, access
denied, configuration).

examples:
  envinit check --service api
  ENVINIT_PREFIX=/prod/envinit envinit check api worker web

flags:
`

// runCheck is `envinit check`.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := loadConfig()
	if err != nil {
		return err
	}
	fs := newToolFlags("check")
	c.storeFlags(fs)
	services, done, err := parseTool(fs, "check", checkHelp, args, stdout)
	if done || err != nil {
		return err
	}
	for _, s := range services {
		if !resolve.ValidAlias(s) {
			return &toolUsageError{"check", fmt.Sprintf("%q is not a service alias: write it as ENVINIT_SERVICE takes it, e.g. svc-abc (no $)", s)}
		}
	}
	if len(services) > 0 {
		c.Service = services[0]
	}
	if err := c.validate(); err != nil {
		return err
	}
	if len(services) == 0 {
		services = []string{c.Service}
	}

	ctx, cancel := withTimeout(ctx, &c)
	defer cancel()
	src, err := openStore(ctx, &c)
	if err != nil {
		return err
	}
	var problems []error
	seen := map[string]bool{}
	for _, alias := range services {
		g, res, errs, err := checkService(ctx, src, alias)
		if err != nil {
			return err // the store, not the data: nothing more can be checked
		}
		for _, e := range errs {
			if msg := e.Error(); !seen[msg] {
				seen[msg] = true
				problems = append(problems, e)
				fmt.Fprintln(stdout, oneLine(msg))
			}
		}
		if len(errs) == 0 {
			vars, files := res.Exported()
			fmt.Fprintf(stdout, "ok: %s: %s (%d sensitive, to files), resolved from %s\n",
				alias, plural(len(vars)+len(files), "variable"), len(files), plural(len(g.Services()), "service"))
		}
	}
	if len(problems) > 0 {
		return &checkError{problems: problems, services: len(services)}
	}
	return nil
}

// checkService resolves alias and returns every problem of its data. err
// is a failure to read the store.
func checkService(ctx context.Context, src resolve.Source, alias string) (*resolve.Graph, *resolve.Result, []error, error) {
	g, err := resolve.Gather(ctx, src, alias, nil)
	if err != nil {
		return nil, nil, nil, timedOut(ctx, err)
	}
	res, err := resolve.Resolve(g, alias, nil)
	if err != nil {
		return g, nil, unjoin(err), nil
	}
	return g, res, conflicts(res), nil
}

// conflicts returns the problems only BuildEnv finds (a sensitive KEY
// whose KEY_FILE is also a secret), all of them: BuildEnv stops at the
// first, so the key it names is set aside and it runs again. They need
// the resolved values, so they show once the rest of the data resolves.
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
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkError is check's verdict when the data has problems; each was
// printed on its own line. It matches what they match (resolve.ErrData:
// exit 65).
type checkError struct {
	problems []error
	services int
}

func (e *checkError) Error() string {
	what := "problem"
	if len(e.problems) > 1 {
		what = "problems"
	}
	in := "the service"
	if e.services > 1 {
		in = fmt.Sprintf("%d services", e.services)
	}
	return fmt.Sprintf("check: %d %s in %s (listed above): fix them in the store (envinit secrets set, unset, import-from), then run envinit check again",
		len(e.problems), what, in)
}

func (e *checkError) Unwrap() []error { return e.problems }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// oneLine keeps a message on one line, for a report of one line per
// problem.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
