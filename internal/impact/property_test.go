package impact

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/impact/impacttest"
	"github.com/envinit/envinit/internal/resolve"
)

// randomEnv is impacttest.RandomStore as an Env, each parameter at a
// random version.
func randomEnv(r *rand.Rand) *Env {
	e := NewEnv()
	kv := impacttest.RandomStore(r, canary)
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		owner, key, _ := strings.Cut(k, "/")
		if owner == "global" {
			owner = Global
		}
		e.Put(owner, key, Param{Value: v(kv[k]), Version: int64(1 + r.IntN(9)), Modified: stamp})
	}
	return e
}

// raw returns owner's stored keys and values, the form an export prints.
func raw(e *Env, owner string) map[string]resolve.Value {
	out := map[string]resolve.Value{}
	for _, k := range e.Keys(owner) {
		p, _ := e.Get(owner, k)
		out[k] = p.Value
	}
	return out
}

// store applies writes to a copy of e, as SSM would.
func store(e *Env, writes []Write) *Env {
	out := e.Clone()
	for _, w := range writes {
		if w.Delete {
			out.Delete(w.Owner, w.Key)
		} else {
			out.Put(w.Owner, w.Key, Param{Value: w.Value})
		}
	}
	return out
}

func startOf(t *testing.T, e *Env, alias string) impacttest.Started {
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

// TestCopyIntoFreshPrefixIsLossless: every service and the globals,
// imported raw into an empty environment (another prefix) through a
// Change, written by the plan's writes, start with identical environments
// and files; a service copied within the environment starts as its
// source does.
func TestCopyIntoFreshPrefixIsLossless(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 11))
		src := randomEnv(r)
		for _, alias := range src.Services() {
			if o := src.Start(alias); !o.OK() {
				t.Fatalf("seed %d: the generator made %s fail: %v", seed, alias, o.Problems)
			}
		}

		var c Change
		c.Import(Global, raw(src, Global))
		for _, alias := range src.Services() {
			c.Import(alias, raw(src, alias))
		}
		p := Apply(NewEnv(), &c)
		if err := p.Refusal(); err != nil {
			t.Fatalf("seed %d: copy refused: %v", seed, err)
		}
		dst := store(NewEnv(), p.Writes())
		for _, alias := range src.Services() {
			if a, b := startOf(t, src, alias), startOf(t, dst, alias); !a.Equal(b) {
				t.Errorf("seed %d: %s copied to a fresh prefix starts differently:\n got %s\nwant %s",
					seed, alias, b.Redacted(canary), a.Redacted(canary))
			}
		}

		alias := src.Services()[r.IntN(len(src.Services()))]
		var cp Change
		cp.Copy(alias, "copy")
		p = Apply(src, &cp)
		if err := p.Refusal(); err != nil {
			t.Fatalf("seed %d: copy of %s refused: %v", seed, alias, err)
		}
		after := store(src, p.Writes())
		if a, b := startOf(t, src, alias), startOf(t, after, "copy"); !a.Equal(b) {
			t.Errorf("seed %d: copy of %s starts differently:\n got %s\nwant %s",
				seed, alias, b.Redacted(canary), a.Redacted(canary))
		}
	}
}

// TestWritesNeverExposeSensitiveValues: whatever change breaks no service,
// a run of its writes stopped after any one of them leaves every service either
// failing to start or exporting as variables only values that some
// service exports as a variable before or after the change; and the
// writes turn Before into After.
func TestWritesNeverExposeSensitiveValues(t *testing.T) {
	checked := 0
	for seed := range uint64(400) {
		r := rand.New(rand.NewPCG(seed, 12))
		before := randomEnv(r)
		c := randomChange(r, before)
		p := Apply(before, c)
		if len(p.Breaks()) > 0 {
			continue // refused: what a forced write exposes is said by its impacts
		}
		checked++
		writes := p.Writes()
		if end := store(before, writes); len(diff(end, p.After)) != 0 {
			t.Fatalf("seed %d: the writes do not turn Before into After: %v differ", seed, diff(end, p.After))
		}
		aliases := union(before.Services(), p.After.Services())
		allowed := map[string]bool{} // values exported as a variable before or after
		for _, e := range []*Env{before, p.After} {
			for _, alias := range aliases {
				if o := e.Start(alias); o.OK() {
					for _, s := range o.Result.Secrets {
						if !s.Sensitive {
							allowed[s.Value.Reveal()] = true
						}
					}
				}
			}
		}
		for i := range writes {
			mid := store(before, writes[:i+1])
			for _, alias := range aliases {
				o := mid.Start(alias)
				if !o.OK() {
					continue
				}
				for _, s := range o.Result.Secrets {
					if !s.Sensitive && !allowed[s.Value.Reveal()] {
						t.Errorf("seed %d: after write %d of %d (%s/%s), %s exports %s as a variable with a value no service exports as a variable before or after",
							seed, i+1, len(writes), writes[i].Owner, writes[i].Key, alias, s.Key)
					}
				}
			}
		}
	}
	if checked < 200 {
		t.Errorf("%d changes checked; want at least 200 (the generator breaks too many)", checked)
	}
}

// randomChange edits a few keys of e: new values (some sensitive), keys
// made sensitive or not, keys removed, imports changed.
func randomChange(r *rand.Rand, e *Env) *Change {
	c := &Change{}
	services := e.Services()
	for range 1 + r.IntN(4) {
		alias := services[r.IntN(len(services))]
		keys := slices.DeleteFunc(e.Keys(alias), func(k string) bool { return strings.HasPrefix(k, "__") })
		key := fmt.Sprintf("NEW%d", r.IntN(3))
		if len(keys) > 0 && r.IntN(2) == 0 {
			key = keys[r.IntN(len(keys))]
		}
		switch r.IntN(5) {
		case 0:
			c.Set(alias, key, v("new-"+canary+fmt.Sprint(r.IntN(9))))
		case 1:
			c.Set(alias, key, v("new-"+canary))
			c.SetSensitive(alias, key, true)
		case 2:
			c.SetSensitive(alias, key, r.IntN(2) == 0)
		case 3:
			c.Unset(alias, key)
			c.SetSensitive(alias, key, false)
		case 4:
			if other := services[r.IntN(len(services))]; other != alias {
				c.SetImports(alias, other)
			}
		}
	}
	return c
}
