// Command envinit is a container entrypoint: it reads which service it is,
// fetches that service's secrets from AWS SSM Parameter Store, resolves
// imports and references, writes sensitive values to files on a memory
// filesystem, and execve's COMMAND with the merged environment. Nothing of
// envinit stays running: COMMAND takes its PID.
//
//	envinit [flags] -- COMMAND [ARG...]
//	envinit render | check | secrets | docker-build [flags] [ARG...]
//	envinit version | install DIR | help
//
// Configuration, each variable also a flag (--service, --prefix, ...; a
// flag wins over its variable):
//
//	ENVINIT_SERVICE      alias of this service, e.g. svc-abc (required)
//	ENVINIT_PREFIX       SSM path of the environment (default /envinit)
//	ENVINIT_SECRETS_DIR  directory for sensitive values, tmpfs or ramfs
//	                     (default /run/secrets if memory-backed and
//	                     writable, else /dev/shm/envinit)
//	ENVINIT_TIMEOUT      deadline for everything before the exec (30s)
//	ENVINIT_OVERRIDE     secrets replace variables already set (true)
//	ENVINIT_USER         user[:group] or uid[:gid] to run COMMAND as
//	ENVINIT_LOG          quiet, info or debug, on stderr (info)
//	ENVINIT_STORE        ssm, or file:PATH for a local JSON store (ssm)
//
// AWS settings are the SDK's own: AWS_REGION, AWS_PROFILE, the credential
// chain, AWS_ENDPOINT_URL_SSM, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE.
//
// Exit codes before the exec: 64 usage, 65 data, 69 store unavailable, 73
// secret files, 75 throttled, 77 access denied, 78 configuration, 126/127
// COMMAND not executable/not found, 130/143 SIGINT/SIGTERM. After the
// exec, COMMAND's own. The README is the full manual.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	if err == nil {
		os.Exit(0) // a subcommand that succeeded; the exec form never returns nil
	}
	if !isQuietExit(err) {
		fmt.Fprintf(os.Stderr, "envinit: %v\n", err)
	}
	os.Exit(exitCode(err))
}
