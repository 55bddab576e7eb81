package impact

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envinit/envinit/internal/resolve"
)

// digests returns every service's fingerprint digest.
func digests(e *Env) map[string]string {
	out := map[string]string{}
	for _, alias := range e.Services() {
		out[alias] = e.Fingerprint(alias).Digest
	}
	return out
}

// changedBy returns the services whose digest edit changes, sorted.
func changedBy(t *testing.T, edit func(e *Env)) []string {
	t.Helper()
	e := env(shop())
	before := digests(e)
	edit(e)
	after := digests(e)
	var out []string
	for alias, d := range before {
		if after[alias] != d {
			out = append(out, alias)
		}
	}
	slices.Sort(out)
	return out
}

// bump stores a new version of owner's key, as SSM does on every write.
func bump(owner, key string) func(e *Env) {
	return func(e *Env) {
		p, _ := e.Get(owner, key)
		p.Version++
		p.Modified = p.Modified.Add(time.Second)
		p.Value = v("rotated " + canary)
		e.Put(owner, key, p)
	}
}

func TestFingerprintIsStableAndHoldsNoValue(t *testing.T) {
	a, b := env(shop()), env(shop())
	for _, alias := range a.Services() {
		fa, fb := a.Fingerprint(alias), b.Fingerprint(alias)
		if fa != fb {
			t.Errorf("%s: %+v then %+v; want the same fingerprint of the same parameters", alias, fa, fb)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(fa.Digest) {
			t.Errorf("%s: digest %q; want 64 hex digits", alias, fa.Digest)
		}
		if !fa.OK {
			t.Errorf("%s: OK = false; want true", alias)
		}
	}
	// Same versions, other values: the digest cannot tell, because no
	// value goes into it.
	c := env(shop())
	p, _ := c.Get("shared", "DB_PASSWORD")
	p.Value = v("another value")
	c.Put("shared", "DB_PASSWORD", p)
	if a.Fingerprint("api") != c.Fingerprint("api") {
		t.Error("a value alone changed the digest; want only names, versions and dates in it")
	}
}

func TestFingerprintParams(t *testing.T) {
	fp := env(shop()).Fingerprint("api")
	// api: __import_svc, DATABASE_URL, TOKEN; shared: DB_PASSWORD,
	// __sensitive, REGION; globals DB_USER, DB_HOST (and the globals'
	// __sensitive, asked for but absent).
	if fp.Params != 8 {
		t.Errorf("api reads %d parameters; want 8", fp.Params)
	}
}

func TestFingerprintChangesWithWhatTheStartReads(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *Env)
		want []string
	}{
		{"nothing", func(*Env) {}, nil},
		{"an unrelated service's key", bump("billing", "NOTE"), []string{"billing"}},
		{"a global nobody reads", bump(Global, "UNUSED"), nil},
		{"a global three services read", bump(Global, "DB_HOST"), []string{"api", "web", "worker"}},
		{"a global one service reads", bump(Global, "DB_USER"), []string{"api", "web"}}, // web reads all of api
		{"an imported key", bump("shared", "DB_PASSWORD"), []string{"api", "shared", "web", "worker"}},
		{"a key of a referenced service", bump("api", "TOKEN"), []string{"api", "web"}},
		{"a service's own key", bump("worker", "DB"), []string{"worker"}},
		{"sensitivity, through __sensitive", func(e *Env) {
			e.Put("billing", resolve.SensitiveKey, Param{Value: v("STRIPE_KEY,NOTE"), Version: 2, Modified: stamp})
		}, []string{"billing"}},
		{"a global created that a service asked for", func(e *Env) {
			e.Put(Global, resolve.SensitiveKey, Param{Value: v("DB_HOST"), Version: 1, Modified: stamp})
		}, []string{"api", "web", "worker"}},
		{"a key added to a service another reads", func(e *Env) {
			e.Put("shared", "NEW", Param{Value: v("x"), Version: 1, Modified: stamp})
		}, []string{"api", "shared", "web", "worker"}},
		{"a key deleted", func(e *Env) { e.Delete("billing", "NOTE") }, []string{"billing"}},
		{"deleted and created again: version 1 again, a later date", func(e *Env) {
			e.Put("worker", "DB", Param{Value: v("#{$/DB_HOST}"), Version: 1, Modified: stamp.Add(time.Hour)})
		}, []string{"worker"}},
		{"a new service", func(e *Env) { e.Put("new", "A", Param{Value: v("a"), Version: 1}) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := changedBy(t, tt.edit); !slices.Equal(got, tt.want) {
				t.Errorf("fingerprints changed: %v; want %v", got, tt.want)
			}
		})
	}
}

func TestFingerprintOfATaintedVariable(t *testing.T) {
	// worker's DB references shared's REGION; listing REGION as sensitive
	// moves worker's DB to DB_FILE: the change is shared's __sensitive,
	// which worker's start reads.
	got := changedBy(t, func(e *Env) {
		e.Put("shared", resolve.SensitiveKey, Param{Value: v("DB_PASSWORD,REGION"), Version: 2, Modified: stamp})
	})
	if want := []string{"api", "shared", "web", "worker"}; !slices.Equal(got, want) {
		t.Errorf("fingerprints changed: %v; want %v", got, want)
	}
}

func TestFingerprintOfABrokenService(t *testing.T) {
	e := env(shop())
	e.Put("web", "X", Param{Value: v("#{$/NOPE}"), Version: 1})
	fp := e.Fingerprint("web")
	if fp.OK {
		t.Error("OK = true; want false for a start that fails")
	}
	before := fp.Digest
	e.Put(Global, "NOPE", Param{Value: v("now here"), Version: 1})
	if fp := e.Fingerprint("web"); fp.Digest == before || !fp.OK {
		t.Errorf("creating the missing global: %+v; want a new digest and OK", fp)
	}
	if strings.Contains(fp.Digest, canary) {
		t.Error("digest holds a value")
	}
}
