package main

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/cli"
	"github.com/envinit/envinit/internal/dockerbuild"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/install"
	"github.com/envinit/envinit/internal/resolve"
	"github.com/envinit/envinit/internal/term"
)

// Exit codes before the exec (the README's Exit codes), after sysexits.h.
const (
	exitUsage         = 64  // EX_USAGE
	exitData          = 65  // EX_DATAERR
	exitNoInput       = 66  // EX_NOINPUT: an input file that cannot be read
	exitUnavailable   = 69  // EX_UNAVAILABLE
	exitSoftware      = 70  // EX_SOFTWARE: a bug in envinit
	exitCantCreate    = 73  // EX_CANTCREAT
	exitTempFail      = 75  // EX_TEMPFAIL
	exitNoPerm        = 77  // EX_NOPERM
	exitConfig        = 78  // EX_CONFIG
	exitNotExecutable = 126 // as a shell reports it
	exitNotFound      = 127
)

// configError is an ENVINIT_* setting that is missing or invalid (exit 78).
type configError struct {
	msg   string
	hints []string
}

func (e *configError) Error() string   { return e.msg }
func (e *configError) Hints() []string { return e.hints }

// exitCode maps an error from run to its exit code. The order matters
// where an error matches more than one: an interrupt wins over the store
// error it caused.
func exitCode(err error) int {
	var intr *interrupted
	var prompt *term.InterruptedError
	var usage *cli.UsageError
	var cfg *configError
	var noInput *noInputError
	switch {
	case errors.As(err, &intr):
		return signalExit(intr.sig)
	case errors.As(err, &prompt):
		return signalExit(prompt.Signal)
	case errors.As(err, &usage), errors.Is(err, admin.ErrUsage):
		return exitUsage
	case errors.As(err, &cfg), errors.Is(err, fetch.ErrConfig), errors.Is(err, execve.ErrUser), errors.Is(err, dockerbuild.ErrConfig):
		return exitConfig
	case errors.As(err, &noInput):
		return exitNoInput
	case errors.Is(err, resolve.ErrData):
		return exitData
	case errors.Is(err, fetch.ErrAccessDenied):
		return exitNoPerm
	case errors.Is(err, fetch.ErrThrottled):
		return exitTempFail
	case errors.Is(err, fetch.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable
	case errors.Is(err, execve.ErrFiles), errors.Is(err, install.Err):
		return exitCantCreate
	case errors.Is(err, execve.ErrNotFound):
		return exitNotFound
	case errors.Is(err, execve.ErrNotExecutable):
		return exitNotExecutable
	}
	return exitSoftware
}

// signalExit is the code a signal's default action would have given.
func signalExit(sig os.Signal) int {
	if sig == syscall.SIGINT {
		return 128 + int(syscall.SIGINT)
	}
	return 128 + int(syscall.SIGTERM)
}

// timedOut names the deadline a bare context.DeadlineExceeded is about;
// the store's own errors name it already.
func timedOut(ctx context.Context, err error) error {
	var fe *fetch.Error
	if errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &fe) {
		return context.Cause(ctx)
	}
	return err
}
