package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"syscall"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

// Exit codes before the exec (SPEC §8), after sysexits.h.
const (
	exitUsage         = 64  // EX_USAGE
	exitData          = 65  // EX_DATAERR
	exitUnavailable   = 69  // EX_UNAVAILABLE
	exitSoftware      = 70  // EX_SOFTWARE: a bug in envinit
	exitCantCreate    = 73  // EX_CANTCREAT
	exitTempFail      = 75  // EX_TEMPFAIL
	exitNoPerm        = 77  // EX_NOPERM
	exitConfig        = 78  // EX_CONFIG
	exitNotExecutable = 126 // as a shell reports it
	exitNotFound      = 127
)

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (envinit help shows the usage)" }

// configError is an ENVINIT_* setting that is missing or invalid.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// interrupted is a SIGTERM or SIGINT that arrived before the exec.
type interrupted struct{ sig os.Signal }

func (e *interrupted) Error() string {
	return "interrupted by " + e.sig.String() + " before starting the command; nothing was left behind"
}

// exitCode maps an error from run to the exit code SPEC §8 gives it. The
// order matters where an error matches more than one: an interrupt wins
// over the store error it caused.
func exitCode(err error) int {
	var intr *interrupted
	var usage *usageError
	var cfg *configError
	switch {
	case errors.As(err, &intr):
		if intr.sig == syscall.SIGINT {
			return 128 + int(syscall.SIGINT)
		}
		return 128 + int(syscall.SIGTERM)
	case errors.As(err, &usage), errors.Is(err, errInstallUsage), errors.Is(err, flag.ErrHelp):
		return exitUsage
	case errors.As(err, &cfg), errors.Is(err, fetch.ErrConfig), errors.Is(err, execve.ErrUser):
		return exitConfig
	case errors.Is(err, resolve.ErrData):
		return exitData
	case errors.Is(err, fetch.ErrAccessDenied):
		return exitNoPerm
	case errors.Is(err, fetch.ErrThrottled):
		return exitTempFail
	case errors.Is(err, fetch.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable
	case errors.Is(err, execve.ErrFiles), errors.Is(err, errInstall):
		return exitCantCreate
	case errors.Is(err, execve.ErrNotFound):
		return exitNotFound
	case errors.Is(err, execve.ErrNotExecutable):
		return exitNotExecutable
	}
	return exitSoftware
}

// isQuietExit reports errors already explained on stderr (a flag
// package's usage message).
func isQuietExit(err error) bool { return errors.Is(err, flag.ErrHelp) }
