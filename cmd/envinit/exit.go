package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
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

// usageError is a bad command line (exit 64). Its hints end with where
// the usage is shown.
type usageError struct {
	cmd   *command // nil: envinit's own
	msg   string
	hints []string
}

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

func (e *usageError) Error() string {
	if e.cmd != nil && e.cmd.Name != "" {
		return e.cmd.Name + ": " + e.msg
	}
	return e.msg
}

func (e *usageError) Hints() []string {
	help := "envinit help shows the usage"
	if e.cmd != nil && e.cmd.Name != "" {
		help = "envinit " + e.cmd.Name + " --help shows the usage"
	}
	return append(e.hints, help)
}

// configError is an ENVINIT_* setting that is missing or invalid (exit 78).
type configError struct {
	msg   string
	hints []string
}

func (e *configError) Error() string   { return e.msg }
func (e *configError) Hints() []string { return e.hints }

// hinter is an error that says how to fix it, on lines of their own.
type hinter interface{ Hints() []string }

// printError writes err as "envinit: " lines: the error (an error that
// lists problems has a line for each), then its hints.
func printError(w io.Writer, err error) {
	var b strings.Builder
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(&b, "envinit: %s\n", line)
	}
	var h hinter
	if errors.As(err, &h) {
		for _, hint := range h.Hints() {
			fmt.Fprintf(&b, "envinit: hint: %s\n", hint)
		}
	}
	io.WriteString(w, b.String())
}

// exitCode maps an error from run to its exit code. The order matters
// where an error matches more than one: an interrupt wins over the store
// error it caused.
func exitCode(err error) int {
	var intr *interrupted
	var prompt *term.InterruptedError
	var usage *usageError
	var cfg *configError
	var noInput *noInputError
	switch {
	case errors.As(err, &intr):
		return signalExit(intr.sig)
	case errors.As(err, &prompt):
		return signalExit(prompt.Signal)
	case errors.As(err, &usage), errors.Is(err, admin.ErrUsage):
		return exitUsage
	case errors.As(err, &cfg), errors.Is(err, fetch.ErrConfig), errors.Is(err, execve.ErrUser):
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
	case errors.Is(err, execve.ErrFiles), errors.Is(err, errInstall):
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
