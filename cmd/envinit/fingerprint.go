package main

import (
	"context"
	"fmt"

	"github.com/envinit/envinit/internal/admin"
)

var cmdFingerprint = &command{
	Name:      "fingerprint",
	UsageLine: "fingerprint [flags] [SERVICE...]",
	Short:     "print a digest of what each service's start reads (deploys)",
	Long: `Prints, per SERVICE (default: --service, or ENVINIT_SERVICE; --all: every
service under the prefix), a SHA-256 digest of the names, versions and
modification times of every parameter that service's start reads — its
own keys, its imports', the globals and the other services' keys its
references name — and of whether each variable it gets is KEY or
KEY_FILE. No value goes into it, and it prints none.

It changes when, and only when, something the service's start reads
changes: a new value (SSM gives it a new version), a parameter created or
deleted, a sensitivity changed. A change to another service, or to a
global it does not reference, leaves it as it is. Put it in the task
definition or the pod template, and a secrets change rolls the service
out, and nothing else does. A file store keeps no versions: there, only a
parameter appearing or going changes it.

A service whose start fails has a fingerprint all the same (envinit
check is the gate; a warning says so); a SERVICE with no parameters at
all is an error (65): a misspelt alias would otherwise deploy.

formats:
  text  one line per service: SERVICE DIGEST
  json  {"prefix", "services": [{"service", "fingerprint", "parameters", "starts"}]}

examples:
  envinit fingerprint api
  envinit fingerprint --all --format json
  ENVINIT_FINGERPRINT=$(envinit fingerprint api | cut -d' ' -f2)`,
	Settings: uses("service", "prefix", "timeout", "store"),
	Flags: []flagSpec{
		{Name: "all", Usage: "every service under the prefix"},
		formatFlag,
	},
	MaxArgs: -1,
	Run:     runFingerprint,
}

func runFingerprint(ctx context.Context, inv *invocation) error {
	var services []string // --all: nil, every service
	if inv.on("all") {
		if len(inv.args) > 0 {
			return usagef(inv.cmd, "--all and SERVICE...: give one")
		}
	} else {
		var err error
		if services, err = inv.services(); err != nil {
			return err
		}
	}
	rd, err := reading(ctx, inv)
	if err != nil {
		return err
	}
	fps, err := admin.Fingerprints(ctx, rd, services)
	if err != nil {
		return err
	}
	for _, fp := range fps {
		if !fp.OK {
			fmt.Fprintf(inv.stderr, "envinit: warning: the next start of %s fails (envinit check %s says why): its fingerprint is printed all the same\n", fp.Alias, fp.Alias)
		}
	}
	out := []byte(admin.FingerprintsText(fps))
	if inv.flag("format") == "json" {
		if out, err = admin.FingerprintsJSON(inv.cfg.Prefix, fps); err != nil {
			return err
		}
	}
	_, err = inv.stdout.Write(out)
	return err
}
