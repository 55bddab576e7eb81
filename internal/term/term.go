// Package term is envinit's terminal I/O, on golang.org/x/term: whether a
// file is a terminal, and reading a secret with echo off. The terminal to
// prompt on is the controlling one, /dev/tty, or else standard input when
// it is a terminal (FiloSottile/age's internal/term does the same).
package term

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// WithTerminal calls f with the terminal to prompt on: /dev/tty when it can
// be opened, else stdin if it is a terminal.
func WithTerminal(stdin *os.File, f func(tty *os.File) error) error {
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		defer tty.Close()
		return f(tty)
	} else if !IsTerminal(stdin) {
		return fmt.Errorf("no terminal to prompt on (/dev/tty: %w, and standard input is not a terminal): pipe the value on stdin instead", err)
	}
	return f(stdin)
}

// InterruptedError is a SIGINT or SIGTERM that arrived while a prompt
// waited. The terminal has been restored.
type InterruptedError struct{ Signal os.Signal }

func (e *InterruptedError) Error() string {
	name := "SIGTERM"
	if e.Signal == syscall.SIGINT {
		name = "^C (SIGINT)"
	}
	return "interrupted by " + name + " at the prompt: nothing was written"
}

// ReadSecret writes prompt to tty and reads one line from it with echo
// off, without its line ending. The terminal's settings are restored
// whatever happens: a SIGINT or SIGTERM while it waits (the terminal still
// sends ^C) restores them and returns an *InterruptedError.
func ReadSecret(tty *os.File, prompt string) (string, error) {
	fd := int(tty.Fd())
	saved, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("cannot read the terminal's settings to turn echo off: %w; pipe the value on stdin instead", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	fmt.Fprint(tty, prompt)
	type line struct {
		b   []byte
		err error
	}
	read := make(chan line, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		read <- line{b, err}
	}()
	select {
	case sig := <-sigs:
		// ReadPassword is still blocked in read(2) and restores nothing
		// until it returns: restore here, before the process exits.
		_ = term.Restore(fd, saved)
		fmt.Fprintln(tty)
		return "", &InterruptedError{sig}
	case l := <-read:
		fmt.Fprintln(tty) // the newline typed was not echoed either
		if l.err != nil && !errors.Is(l.err, io.EOF) {
			return "", fmt.Errorf("reading the value from the terminal: %w", l.err)
		}
		return string(l.b), nil
	}
}
