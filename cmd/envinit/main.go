// Command envinit is a container entrypoint: it reads which service it is,
// fetches that service's secrets from AWS SSM Parameter Store, resolves
// imports and references, writes sensitive values to files on a memory
// filesystem, and execve's COMMAND with the merged environment. Nothing of
// envinit stays running: COMMAND takes its PID. The same binary carries the
// operator's tools.
//
//	envinit [flags] -- COMMAND [ARG...]
//	envinit render | check | fingerprint | secrets | docker-build [flags] [ARG...]
//	envinit version | install DIR | completion SHELL | help [COMMAND]
//
// Configuration, each variable also a flag of the commands that use it
// (--service, --prefix, ...; a flag wins over its variable, even over one
// that does not parse; an empty variable is an unset one):
//
//	ENVINIT_SERVICE      alias of this service, e.g. svc-abc (required)
//	ENVINIT_PREFIX       SSM path of the environment (default /envinit)
//	ENVINIT_SECRETS_DIR  directory for sensitive values, tmpfs or ramfs
//	                     (default /run/secrets if memory-backed and
//	                     writable, else /dev/shm/envinit)
//	ENVINIT_TIMEOUT      deadline for reading the store (30s)
//	ENVINIT_OVERRIDE     secrets replace variables already set (true)
//	ENVINIT_USER         user[:group] or uid[:gid] to run COMMAND as
//	ENVINIT_LOG          quiet, info or debug, on stderr (info)
//	ENVINIT_STORE        ssm, or file:PATH for a local JSON store (ssm)
//	ENVINIT_KMS_KEY_ID   KMS key the secrets tool encrypts with
//	ENVINIT_NO_NEW_PRIVS COMMAND can never gain privileges, not even
//	                     through a setuid binary (false)
//
// AWS settings are the SDK's own: AWS_REGION, AWS_PROFILE, the credential
// chain, AWS_ENDPOINT_URL_SSM, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE.
//
// Output: results on stdout; everything else on stderr, each line starting
// "envinit: ", an error on one line (then one per problem it lists)
// followed by "envinit: hint: " lines that say how to fix it. Help goes to
// stdout. Exit codes before the exec: 64 usage, 65 data, 66 input file
// unreadable, 69 store unavailable, 73 secret files, 75 throttled, 77
// access denied, 78 configuration, 126/127 COMMAND not executable/not
// found, 130/143 SIGINT/SIGTERM. After the exec, COMMAND's own. The README
// is the full manual.
package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/cli"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
)

func main() {
	holdGC()
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), exec: execve.Exec,
		reader: openReader, writer: openWriter}
	err := a.run(context.Background(), os.Args[1:])
	if err == nil {
		os.Exit(0) // a tool that succeeded; the exec form never returns nil
	}
	cli.PrintError(os.Stderr, err)
	os.Exit(exitCode(err))
}

// app is one run of envinit: its standard streams and environment, and
// the two ways it reaches out that tests replace.
type app struct {
	stdin          *os.File
	stdout, stderr io.Writer
	environ        []string
	// exec replaces the process: execve.Exec.
	exec func(path string, argv, env []string) error
	// reader opens the store the read-only tools list: SSM, or a file.
	reader func(ctx context.Context, c *config) (admin.Reader, error)
	// writer opens the store the secrets tool changes: SSM only.
	writer func(ctx context.Context, c *config) (admin.Store, error)
}

// openReader is the tools' store to read whole: SSM, through the
// entrypoint's client, or the file of ENVINIT_STORE=file:PATH.
func openReader(ctx context.Context, c *config) (admin.Reader, error) {
	if path, ok := strings.CutPrefix(c.Store, "file:"); ok {
		return fetch.OpenFile(path, c.Prefix)
	}
	return fetch.Load(ctx, c.Prefix, fetch.Retry{})
}

// openWriter is the secrets tool's store: SSM, through the entrypoint's
// client, so writes are retried as reads are.
func openWriter(ctx context.Context, c *config) (admin.Store, error) {
	ssm, err := fetch.Load(ctx, c.Prefix, fetch.Retry{})
	if err != nil {
		return nil, err
	}
	return fetch.NewWriter(ssm)
}
