package admin_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/impact/impacttest"
	"github.com/envinit/envinit/internal/resolve"
)

func startOf(t *testing.T, e *impact.Env, alias string) impacttest.Started {
	t.Helper()
	o := e.Start(alias)
	if !o.OK() {
		t.Fatalf("start of %s: %v", alias, o.Problems)
	}
	s, err := impacttest.Start(o.Result.Secrets)
	if err != nil {
		t.Fatalf("start of %s: %v", alias, err)
	}
	return s
}

// Every service and the globals, exported (dotenv or JSON) and imported
// into an empty store, another prefix, without --force (the globals
// first, then the services in the order they depend on each other), are
// stored byte for byte as they were and start with identical environments
// and files; a service copied within the store starts as its source.
func TestExportImportAndCopyAreLossless(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 21))
		src := newFakeStore(impacttest.RandomStore(r, canary))
		dst := newFakeStore(nil)
		srcEnv := snapshot(t, src)
		targets := []admin.Target{{Global: true}}
		for _, alias := range srcEnv.Services() {
			targets = append(targets, admin.Target{Alias: alias})
		}
		for _, tg := range targets {
			x, err := admin.Export(ctx, src, tg)
			if err != nil {
				t.Fatalf("seed %d: export %s: %v", seed, tg, err)
			}
			data := []byte(x.Dotenv())
			if seed%2 == 1 {
				data, _ = x.JSON()
			}
			if _, err := admin.Import(ctx, dst, admin.ImportRequest{Target: tg, Name: "export", Data: data}); err != nil {
				t.Fatalf("seed %d: import %s: %v", seed, tg, errText(err))
			}
		}
		if !maps.Equal(src.params, dst.params) {
			t.Errorf("seed %d: the imported store differs: keys %q; want %q", seed, keysOf(dst), keysOf(src))
			for k, v := range src.params {
				if dst.params[k] != v {
					t.Errorf("seed %d: %s differs", seed, k)
				}
			}
		}
		dstEnv := snapshot(t, dst)
		for _, alias := range srcEnv.Services() {
			if a, b := startOf(t, srcEnv, alias), startOf(t, dstEnv, alias); !a.Equal(b) {
				t.Errorf("seed %d: %s imported into a fresh prefix starts differently", seed, alias)
			}
		}

		alias := srcEnv.Services()[r.IntN(len(srcEnv.Services()))]
		if _, err := admin.Copy(ctx, src, admin.CopyRequest{From: alias, To: "copy"}); err != nil {
			t.Fatalf("seed %d: copy %s: %v", seed, alias, errText(err))
		}
		after := snapshot(t, src)
		if a, b := startOf(t, after, alias), startOf(t, after, "copy"); !a.Equal(b) {
			t.Errorf("seed %d: the copy of %s starts differently", seed, alias)
		}
	}
}

// No sequence of writes without --force leaves a service that started in
// a state where its start fails, or moves a variable from a file to the
// environment unless a key was made not sensitive (--no-sensitive); a
// refused write writes nothing.
func TestNoWriteBreaksAStart(t *testing.T) {
	ctx := context.Background()
	written, refused := 0, 0
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 22))
		st := newFakeStore(impacttest.RandomStore(r, canary))
		for step := range 8 {
			before := snapshot(t, st)
			paramsBefore := maps.Clone(st.params)
			name, declassifies, op := randomOp(r, before)
			err := op(ctx, st)
			if err != nil {
				if !errors.Is(err, resolve.ErrData) && !errors.Is(err, admin.ErrUsage) {
					t.Fatalf("seed %d step %d: %s: %v; want a data or usage error", seed, step, name, err)
				}
				if !maps.Equal(st.params, paramsBefore) {
					t.Errorf("seed %d step %d: %s was refused (%v) but wrote", seed, step, name, err)
				}
				noCanary(t, name, err)
				refused++
				continue
			}
			written++
			after := snapshot(t, st)
			for _, alias := range before.Services() {
				ob := before.Start(alias)
				if !ob.OK() {
					continue
				}
				oa := after.Start(alias)
				if !oa.OK() {
					t.Errorf("seed %d step %d: %s made %s fail: %v", seed, step, name, alias, oa.Problems)
					continue
				}
				if declassifies {
					continue
				}
				// Without --no-sensitive, a file stays a file.
				files := map[string]bool{}
				for _, s := range ob.Result.Secrets {
					files[s.Key] = s.Sensitive
				}
				for _, s := range oa.Result.Secrets {
					if files[s.Key] && !s.Sensitive {
						t.Errorf("seed %d step %d: %s moved %s of %s from a file to the environment", seed, step, name, s.Key, alias)
					}
				}
			}
		}
	}
	t.Logf("%d written, %d refused", written, refused)
	if written < 500 || refused < 300 {
		t.Errorf("%d writes made, %d refused; want at least 500 and 300 (the generator is off)", written, refused)
	}
}

// randomOp is a write of a random kind on a random target: new values
// (references to keys that exist or not, "#{" that is no reference),
// sensitivity changes, removals, imports, files, copies.
func randomOp(r *rand.Rand, e *impact.Env) (name string, declassifies bool, op func(context.Context, admin.Store) error) {
	services := e.Services()
	target := admin.Target{Global: true}
	if r.IntN(4) > 0 {
		target = admin.Target{Alias: services[r.IntN(len(services))]}
	}
	owner := target.Alias
	keys := slices.DeleteFunc(e.Keys(owner), func(k string) bool { return strings.HasPrefix(k, "__") })
	key := []string{"NEW0", "NEW1", "K0", "K1"}[r.IntN(4)]
	if len(keys) > 0 && r.IntN(3) > 0 {
		key = keys[r.IntN(len(keys))]
	}
	values := []string{
		"plain " + canary,
		"#{$/G0} " + canary,
		"#{$/NOPE} " + canary,
		"pw#{" + canary,
		"#{$s0/K0_0}" + canary,
		"#{$" + owner + "/" + key + "}",
		fmt.Sprintf("#{$s%d/K%d_0}", r.IntN(4), r.IntN(4)),
	}
	value := values[r.IntN(len(values))]
	run := func(f func(context.Context, admin.Store) (*admin.Result, error)) func(context.Context, admin.Store) error {
		return func(ctx context.Context, st admin.Store) error { _, err := f(ctx, st); return err }
	}
	switch r.IntN(6) {
	case 0, 1:
		sens := admin.Sensitivity(r.IntN(3))
		return fmt.Sprintf("set %s %s (%d)", target, key, sens), sens == admin.NotSensitive, run(func(ctx context.Context, st admin.Store) (*admin.Result, error) {
			return admin.Set(ctx, st, admin.SetRequest{Target: target, Key: key, Sensitive: sens, Literal: r.IntN(4) == 0, Value: value_(value)})
		})
	case 2:
		return fmt.Sprintf("unset %s %s", target, key), false, run(func(ctx context.Context, st admin.Store) (*admin.Result, error) {
			return admin.Unset(ctx, st, target, key, admin.Options{})
		})
	case 3:
		var aliases []string
		for range r.IntN(3) {
			aliases = append(aliases, fmt.Sprintf("s%d", r.IntN(5)))
		}
		return fmt.Sprintf("import-from %s %v", target, aliases), false, run(func(ctx context.Context, st admin.Store) (*admin.Result, error) {
			if len(aliases) == 0 {
				return admin.Unset(ctx, st, target, resolve.ImportKey, admin.Options{})
			}
			return admin.ImportFrom(ctx, st, target, aliases, admin.Options{})
		})
	case 4:
		file := fmt.Sprintf("%s=%s\nOTHER=%s\n", key, quote(value), quote(values[r.IntN(len(values))]))
		if r.IntN(3) == 0 {
			file += "__sensitive=" + key + "\n"
		}
		return fmt.Sprintf("import %s %q", target, file), false, run(func(ctx context.Context, st admin.Store) (*admin.Result, error) {
			return admin.Import(ctx, st, admin.ImportRequest{Target: target, Name: "-", Data: []byte(file), Literal: r.IntN(4) == 0})
		})
	}
	to := fmt.Sprintf("s%d", r.IntN(6))
	return fmt.Sprintf("copy %s %s", owner, to), false, run(func(ctx context.Context, st admin.Store) (*admin.Result, error) {
		return admin.Copy(ctx, st, admin.CopyRequest{From: services[r.IntN(len(services))], To: to, Replace: r.IntN(2) == 0})
	})
}

func value_(v string) func() (string, error) { return func() (string, error) { return v, nil } }

func quote(v string) string { return "'" + v + "'" }
