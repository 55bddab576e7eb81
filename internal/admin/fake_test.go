package admin_test

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// fakeStore is a store in a map, keyed "api/KEY" or "global/KEY", that
// records every write.
type fakeStore struct {
	params  map[string]string
	ops     []string // "put api/KEY", "delete api/KEY"
	failPut string   // a key whose Put fails
}

func newFakeStore(params map[string]string) *fakeStore {
	if params == nil {
		params = map[string]string{}
	}
	return &fakeStore{params: maps.Clone(params)}
}

func (f *fakeStore) ServiceDir(alias string) string { return alias }
func (f *fakeStore) GlobalDir() string              { return "global" }

func (f *fakeStore) Read(_ context.Context, dir string) (map[string]resolve.Value, error) {
	kv := map[string]resolve.Value{}
	for name, v := range f.params {
		if k, ok := strings.CutPrefix(name, dir+"/"); ok {
			kv[k] = resolve.NewValue(v)
		}
	}
	return kv, nil
}

func (f *fakeStore) Put(_ context.Context, dir, key string, v resolve.Value, _ string) error {
	if key == f.failPut {
		return errors.New("put failed")
	}
	f.ops = append(f.ops, "put "+dir+"/"+key)
	f.params[dir+"/"+key] = v.Reveal()
	return nil
}

func (f *fakeStore) Delete(_ context.Context, dir, key string) error {
	f.ops = append(f.ops, "delete "+dir+"/"+key)
	delete(f.params, dir+"/"+key)
	return nil
}
