package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// UsageError is a bad command line (exit 64). Its hints end with where
// the usage is shown.
type UsageError struct {
	Command string // the command's name; "" for envinit's own
	Msg     string
	More    []string // hints before the one that points at the usage
}

// Usagef is a UsageError of the command named command.
func Usagef(command, format string, args ...any) *UsageError {
	return &UsageError{Command: command, Msg: fmt.Sprintf(format, args...)}
}

func (e *UsageError) Error() string {
	if e.Command != "" {
		return e.Command + ": " + e.Msg
	}
	return e.Msg
}

func (e *UsageError) Hints() []string {
	help := Prog + " help shows the usage"
	if e.Command != "" {
		help = Prog + " " + e.Command + " --help shows the usage"
	}
	return append(e.More, help)
}

// Hinter is an error that says how to fix it, on lines of their own.
type Hinter interface{ Hints() []string }

// PrintError writes err as "envinit: " lines: the error (an error that
// lists problems has a line for each), then its hints as "envinit: hint: "
// lines.
func PrintError(w io.Writer, err error) {
	var b strings.Builder
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(&b, "%s: %s\n", Prog, line)
	}
	var h Hinter
	if errors.As(err, &h) {
		for _, hint := range h.Hints() {
			fmt.Fprintf(&b, "%s: hint: %s\n", Prog, hint)
		}
	}
	io.WriteString(w, b.String())
}
