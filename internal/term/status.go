package term

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Status shows a long operation's progress on w (standard error): nothing
// for the first moment, then a line at most every few seconds, or, at a
// terminal, one line rewritten in place. It is not safe for concurrent
// use.
type Status struct {
	w            io.Writer
	tty          bool
	start, last  time.Time
	after, every time.Duration
	shown        bool
}

// NewStatus returns a Status that stays silent for after.
func NewStatus(w io.Writer, after time.Duration) *Status {
	s := &Status{w: w, start: time.Now(), after: after, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok && IsTerminal(f) {
		s.tty, s.every = true, 100*time.Millisecond
	}
	return s
}

// Show shows the line line makes, when it is time to.
func (s *Status) Show(line func() string) {
	now := time.Now()
	if now.Sub(s.start) < s.after || s.shown && now.Sub(s.last) < s.every {
		return
	}
	s.last, s.shown = now, true
	if s.tty {
		fmt.Fprintf(s.w, "\r%s\x1b[K", line())
		return
	}
	fmt.Fprintln(s.w, line())
}

// Done ends the line rewritten at a terminal.
func (s *Status) Done() {
	if s.tty && s.shown {
		fmt.Fprintln(s.w)
	}
}
