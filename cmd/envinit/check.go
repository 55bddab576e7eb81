package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/impact"
)

var cmdCheck = &command{
	Name:      "check",
	UsageLine: "check [flags] [SERVICE...]",
	Short:     "report every problem of the services' data (CI)",
	Long: `Resolves each SERVICE (default: --service, or ENVINIT_SERVICE) from the
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
  envinit check api
  ENVINIT_PREFIX=/prod/envinit envinit check api worker web`,
	Settings: uses("service", "prefix", "timeout", "store"),
	MaxArgs:  -1,
	Run:      runCheck,
}

func runCheck(ctx context.Context, inv *invocation) error {
	services, err := inv.services()
	if err != nil {
		return err
	}
	c := inv.cfg
	ctx, cancel := withTimeout(ctx, &c)
	defer cancel()
	src, err := openStore(ctx, &c)
	if err != nil {
		return timedOut(ctx, err)
	}
	var problems []error
	seen := map[string]bool{}
	for _, alias := range services {
		r, err := impact.Start(ctx, src, alias)
		if err != nil {
			return timedOut(ctx, err) // the store, not the data: nothing more can be checked
		}
		for _, e := range r.Problems {
			if msg := e.Error(); !seen[msg] {
				seen[msg] = true
				problems = append(problems, e)
				fmt.Fprintln(inv.stdout, strings.ReplaceAll(msg, "\n", " "))
			}
		}
		if len(r.Problems) == 0 {
			vars, files := r.Result.Exported()
			fmt.Fprintf(inv.stdout, "ok: %s: %s (%d sensitive, to files), resolved from %s\n",
				alias, plural(len(vars)+len(files), "variable"), len(files), plural(len(r.Graph.Services()), "service"))
		}
	}
	if len(problems) > 0 {
		return &checkError{problems: problems, services: len(services)}
	}
	return nil
}

// checkError is check's verdict when the data has problems; each was
// printed on its own line. It matches what they match (resolve.ErrData:
// exit 65).
type checkError struct {
	problems []error
	services int
}

func (e *checkError) Error() string {
	in := "the service"
	if e.services > 1 {
		in = fmt.Sprintf("%d services", e.services)
	}
	return fmt.Sprintf("check: %s in %s (listed above)", plural(len(e.problems), "problem"), in)
}

func (e *checkError) Hints() []string {
	return append(admin.Fixes(e.problems), "fix them in the store (envinit secrets set, unset, import-from), then run envinit check again")
}

func (e *checkError) Unwrap() []error { return e.problems }
