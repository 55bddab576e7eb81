package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
	"github.com/envinit/envinit/internal/term"
)

// limitedReader bounds the read of the whole environment by
// ENVINIT_TIMEOUT and reports its progress on stderr when it takes more
// than a moment.
type limitedReader struct {
	r      admin.Reader
	cfg    *config
	stderr io.Writer
}

func (l limitedReader) Environment(ctx context.Context, _ func(fetch.Progress)) (*fetch.Environment, error) {
	ctx, cancel := withTimeout(ctx, l.cfg)
	defer cancel()
	p := newProgress(l.stderr, l.cfg.Prefix, time.Second)
	env, err := l.r.Environment(ctx, p.report)
	p.done()
	if err != nil {
		return nil, timedOut(ctx, err)
	}
	return env, nil
}

// limitedStore is limitedReader with writes, each bounded on its own by
// ENVINIT_TIMEOUT: an import is many calls.
type limitedStore struct {
	limitedReader
	st admin.Store
}

func (l limitedStore) Put(ctx context.Context, name string, v resolve.Value, kmsKeyID string) error {
	ctx, cancel := withTimeout(ctx, l.cfg)
	defer cancel()
	return timedOut(ctx, l.st.Put(ctx, name, v, kmsKeyID))
}

func (l limitedStore) Delete(ctx context.Context, name string) error {
	ctx, cancel := withTimeout(ctx, l.cfg)
	defer cancel()
	return timedOut(ctx, l.st.Delete(ctx, name))
}

// progress reports a long read of the environment on stderr: nothing for
// the first moment (after), then a line at most every few seconds, or,
// at a terminal, one line rewritten in place.
type progress struct {
	w            io.Writer
	prefix       string
	tty          bool
	start, last  time.Time
	after, every time.Duration
	shown        bool
}

func newProgress(w io.Writer, prefix string, after time.Duration) *progress {
	p := &progress{w: w, prefix: prefix, start: time.Now(), after: after, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(f) {
		p.tty, p.every = true, 100*time.Millisecond
	}
	return p
}

// report is fetch's progress callback, never called concurrently.
func (p *progress) report(pr fetch.Progress) {
	now := time.Now()
	if now.Sub(p.start) < p.after || p.shown && now.Sub(p.last) < p.every {
		return
	}
	p.last, p.shown = now, true
	more := ""
	if pr.Listing {
		more = " so far"
	}
	line := fmt.Sprintf("envinit: reading the environment under %s/: %d names listed%s, %d of %d values read", p.prefix, pr.Listed, more, pr.Read, pr.ToRead)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// done ends the line rewritten at a terminal.
func (p *progress) done() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
}
