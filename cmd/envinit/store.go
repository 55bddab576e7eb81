package main

import (
	"context"
	"fmt"
	"io"
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
	st := term.NewStatus(l.stderr, time.Second)
	env, err := l.r.Environment(ctx, progress(st, l.cfg.Prefix))
	st.Done()
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

// progress is fetch's progress callback for a read of the environment
// under prefix, shown on st.
func progress(st *term.Status, prefix string) func(fetch.Progress) {
	return func(pr fetch.Progress) {
		st.Show(func() string {
			more := ""
			if pr.Listing {
				more = " so far"
			}
			return fmt.Sprintf("envinit: reading the environment under %s/: %d names listed%s, %d of %d values read", prefix, pr.Listed, more, pr.Read, pr.ToRead)
		})
	}
}
