package main

import (
	"context"

	"github.com/envinit/envinit/internal/admin"
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

--all checks every service under the prefix: it reads the whole
environment once (as fingerprint and the secrets writes do) and resolves
each service from that read, with the same rules. It also warns, without
failing, of the services no other service imports or references (each is
read only by the containers that name it), the globals no service
references, and the parameters under the prefix no start reads.

It checks the store only: the container's own variables are not in the
store and CI does not have them (envinit render, run in the image, shows
them resolved). Nor does it look at ENVINIT_SECRETS_DIR: the directory is
the container's, and its first start checks it (exit 73).

formats:
  text  a line per problem, once, and "ok: ..." per service that starts,
        then "warning: ..." lines
  json  {"prefix", "all", "ok", "services": [{"service", "starts",
        "problems": [{"message", "hints"}], "variables", "sensitive",
        "services_read"}], "warnings": [{"kind", "service" | "global" |
        "parameter", "message"}]}

exit codes: 0 all good; 65 problems in the data (the warnings are not);
69, 75, 77, 78 as for the entrypoint (store unavailable, throttled, access
denied, configuration).

examples:
  envinit check api
  ENVINIT_PREFIX=/prod/envinit envinit check api worker web
  envinit check --all --format json | jq '.services[] | select(.starts | not)'`,
	Settings: uses("service", "prefix", "timeout", "store"),
	Flags: []flagSpec{
		{Name: "all", Usage: "every service under the prefix, and what no start reads"},
		formatFlag,
	},
	MaxArgs: -1,
	Run:     runCheck,
}

// formatFlag is the --format of the tools whose output pipelines read.
var formatFlag = flagSpec{Name: "format", Arg: "FORMAT", Values: []string{"text", "json"}, Default: "text", Usage: "output format: text or json"}

func runCheck(ctx context.Context, inv *invocation) error {
	var c *admin.Checked
	if inv.on("all") {
		if len(inv.args) > 0 {
			return usagef(inv.cmd, "--all and SERVICE...: give one")
		}
		rd, err := reading(ctx, inv)
		if err != nil {
			return err
		}
		if c, err = admin.CheckAll(ctx, rd); err != nil {
			return err
		}
	} else {
		services, err := inv.services()
		if err != nil {
			return err
		}
		cfg := inv.cfg
		ctx, cancel := withTimeout(ctx, &cfg)
		defer cancel()
		src, err := openStore(ctx, &cfg)
		if err != nil {
			return timedOut(ctx, err)
		}
		if c, err = admin.Check(ctx, src, cfg.Prefix, services); err != nil {
			return timedOut(ctx, err) // the store, not the data: nothing more can be checked
		}
	}
	json := inv.flag("format") == "json"
	out := []byte(c.Text())
	if json {
		var err error
		if out, err = c.JSON(); err != nil {
			return err
		}
	}
	if _, err := inv.stdout.Write(out); err != nil {
		return err
	}
	return c.Err(json)
}
