package admin_test

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

// prefix is the fake store's ENVINIT_PREFIX.
const prefix = "/envinit"

// fakeStore is a store in a map, keyed by the name under the prefix with
// "services/" left out: "api/KEY", "global/KEY" (anything else, e.g.
// "api/sub/KEY", is a stray). It keeps SSM's versions and modification
// times, and records every write.
type fakeStore struct {
	params   map[string]string
	versions map[string]int64
	modified map[string]time.Time
	ops      []string // "put api/KEY", "delete api/KEY"
	failPut  string   // a key whose Put fails
	clock    time.Time
}

func newFakeStore(params map[string]string) *fakeStore {
	f := &fakeStore{params: map[string]string{}, versions: map[string]int64{}, modified: map[string]time.Time{},
		clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for k, v := range params {
		f.params[k] = v
		f.versions[k] = 1
		f.modified[k] = f.clock
	}
	return f
}

// name is the full parameter name of a fake key, and back.
func name(k string) string {
	if strings.HasPrefix(k, "global/") {
		return prefix + "/" + k
	}
	return prefix + "/services/" + k
}

func short(name string) string {
	rel := strings.TrimPrefix(name, prefix+"/")
	if strings.HasPrefix(rel, "global/") {
		return rel
	}
	return strings.TrimPrefix(rel, "services/")
}

func (f *fakeStore) Environment(_ context.Context, progress func(fetch.Progress)) (*fetch.Environment, error) {
	var params []fetch.Parameter
	for k, v := range f.params {
		params = append(params, fetch.Parameter{Name: name(k), Type: "SecureString", Version: f.versions[k], Modified: f.modified[k], Value: resolve.NewValue(v)})
	}
	if progress != nil {
		progress(fetch.Progress{Listed: len(params), Read: len(params), ToRead: len(params)})
	}
	return fetch.EnvironmentOf(prefix, params), nil
}

func (f *fakeStore) Put(_ context.Context, n string, v resolve.Value, _ string) error {
	k := short(n)
	if strings.HasSuffix(k, "/"+f.failPut) && f.failPut != "" {
		return errors.New("put failed")
	}
	f.ops = append(f.ops, "put "+k)
	f.params[k] = v.Reveal()
	f.versions[k]++
	f.clock = f.clock.Add(time.Second)
	f.modified[k] = f.clock
	return nil
}

func (f *fakeStore) Delete(_ context.Context, n string) error {
	k := short(n)
	f.ops = append(f.ops, "delete "+k)
	if _, ok := f.params[k]; !ok {
		return &resolve.KeyError{Where: "fake", Key: k, Reason: "no such parameter"}
	}
	delete(f.params, k)
	delete(f.versions, k) // SSM forgets a deleted parameter's versions
	return nil
}
