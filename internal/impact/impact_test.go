package impact

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

// canary is in every value a test stores: no problem text may hold it.
const canary = "CANARY-4b227777d4dd1fc6"

var stamp = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// env builds an Env from "owner/KEY" → value ("/KEY" for a global), each
// parameter at version 1.
func env(kv map[string]string) *Env {
	e := NewEnv()
	for name, v := range kv {
		owner, key, _ := strings.Cut(name, "/")
		e.Put(owner, key, Param{Value: resolve.NewValue(v), Version: 1, Modified: stamp})
	}
	return e
}

// shop is a small environment every test starts from: a shared service
// holding the database password, api importing it, web and worker
// referencing globals and api, billing on its own.
func shop() map[string]string {
	return map[string]string{
		"/DB_HOST":            "db.internal",
		"/DB_USER":            "app",
		"/UNUSED":             "nobody reads this " + canary,
		"shared/DB_PASSWORD":  "pw-" + canary,
		"shared/__sensitive":  "DB_PASSWORD",
		"shared/REGION":       "eu-west-1",
		"api/__import_svc":    "$shared",
		"api/DATABASE_URL":    "postgres://#{$/DB_USER}@#{$/DB_HOST}/api",
		"api/TOKEN":           "tok-" + canary,
		"web/API_URL":         "http://api/#{$api/TOKEN}",
		"web/DB":              "#{$/DB_HOST}",
		"web/LITERAL":         "##{not a ref} " + canary,
		"worker/DB":           "#{$/DB_HOST}:#{$shared/REGION}",
		"billing/STRIPE_KEY":  "sk-" + canary,
		"billing/__sensitive": "STRIPE_KEY",
		"billing/NOTE":        "multi\nline = value " + canary,
	}
}

func noCanary(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Errorf("problem text holds a value: %q", strings.ReplaceAll(err.Error(), canary, "<CANARY>"))
		}
	}
}

func v(s string) resolve.Value { return resolve.NewValue(s) }

func TestShopStarts(t *testing.T) {
	e := env(shop())
	for _, alias := range e.Services() {
		if o := e.Start(alias); !o.OK() {
			t.Errorf("start of %s: %v; want it to succeed", alias, o.Problems)
		}
	}
}

func TestStartReportsConflicts(t *testing.T) {
	e := env(map[string]string{
		"api/PW": "x", "api/PW_FILE": "y", "api/TOKEN": "z", "api/TOKEN_FILE": "w",
		"api/__sensitive": "PW,TOKEN", "api/#BAD": "v",
	})
	o := e.Start("api")
	var ce *execve.ConflictError
	if len(o.Problems) != 1 || o.Result != nil {
		t.Fatalf("got %v; want the invalid key alone (conflicts show once the rest resolves)", o.Problems)
	}
	e.Delete("api", "#BAD")
	o = e.Start("api")
	if len(o.Problems) != 2 || !errors.As(o.Problems[0], &ce) || o.Result != nil {
		t.Errorf("got %v; want both KEY_FILE conflicts", o.Problems)
	}
}

// impactOf returns the plan's impact on alias, or the zero Impact.
func impactOf(p *Plan, alias string) (Impact, bool) {
	for _, imp := range p.Services {
		if imp.Alias == alias {
			return imp, true
		}
	}
	return Impact{}, false
}

func TestApplyRefuses(t *testing.T) {
	tests := []struct {
		name    string
		change  func(c *Change)
		breaks  map[string]string // alias → text one of its new problems holds
		as      any               // the type of the first alias's problem (pointer to pointer)
		invalid string            // text an Invalid error holds
	}{
		{"a generated password holding #{", func(c *Change) { c.Set("shared", "DB_PASSWORD", v("pw#{x"+canary)) },
			map[string]string{"shared": `$shared/DB_PASSWORD: malformed reference at byte 2: unterminated "#{"`,
				"api": "unterminated"},
			new(*resolve.SyntaxError), "$shared/DB_PASSWORD: malformed reference"},
		{"unset a global three services reference", func(c *Change) { c.Unset(Global, "DB_HOST") },
			map[string]string{"api": "no global DB_HOST", "web": "no global DB_HOST", "worker": "no global DB_HOST"},
			new(*resolve.MissingError), ""},
		{"a dangling reference", func(c *Change) { c.Set("web", "X", v("#{$/NOPE}"+canary)) },
			map[string]string{"web": "$web/X: reference #{$/NOPE}: no global NOPE"}, new(*resolve.MissingError), ""},
		{"a reference to a key a service does not have", func(c *Change) { c.Set("web", "X", v("#{$billing/NOPE}")) },
			map[string]string{"web": "service billing has no key NOPE"}, new(*resolve.MissingError), ""},
		{"a reference to a service with no secrets", func(c *Change) { c.Set("web", "X", v("#{$ghost/K}")) },
			map[string]string{"web": "service ghost, referenced by $web/X, has no secrets"}, new(*resolve.NoSecretsError), ""},
		{"a new reference cycle", func(c *Change) { c.Set("shared", "REGION", v("#{$worker/DB}")) },
			map[string]string{"worker": "reference cycle", "shared": "reference cycle", "api": "reference cycle"},
			new(*resolve.CycleError), ""},
		{"a new import cycle", func(c *Change) { c.SetImports("shared", "api") },
			map[string]string{"api": "import cycle", "shared": "import cycle", "web": "import cycle", "worker": "import cycle"},
			new(*resolve.CycleError), ""},
		{"an invalid key", func(c *Change) { c.Set("api", "MY-KEY", v("x")) },
			// web references api's TOKEN: api's keys failing fail it too.
			map[string]string{"api": `key "MY-KEY": not a valid name`, "web": `key "MY-KEY"`}, new(*resolve.KeyError), `key "MY-KEY"`},
		{"a forbidden key", func(c *Change) { c.Set("billing", "LD_PRELOAD", v("/x.so")) },
			map[string]string{"billing": "LD_PRELOAD"}, new(*resolve.KeyError), "LD_PRELOAD"},
		{"an unknown special key", func(c *Change) { c.Set("billing", "__import", v("$shared")) },
			map[string]string{"billing": "unknown special key"}, new(*resolve.KeyError), "special"},
		{"a sensitive key whose KEY_FILE is a key too", func(c *Change) {
			c.Set("billing", "NOTE_FILE", v("/etc/x"))
			c.SetSensitive("billing", "NOTE", true)
		}, map[string]string{"billing": "NOTE_FILE"}, new(*execve.ConflictError), ""},
		{"a sensitive key whose file variable cannot be passed", func(c *Change) {
			c.Set("billing", "LD", v("x"))
			c.SetSensitive("billing", "LD", true)
		}, map[string]string{"billing": "LD_FILE"}, new(*resolve.ValueError), ""},
		{"a sensitive list naming a key that does not exist", func(c *Change) { c.SetSensitive("api", "TOKNE", true) },
			map[string]string{"api": "TOKNE", "web": "TOKNE"}, new(*resolve.KeyError), ""},
		{"an import of a service with no secrets", func(c *Change) { c.SetImports("web", "shared", "ghost") },
			map[string]string{"web": "service ghost, imported by $web, has no secrets"}, new(*resolve.NoSecretsError), ""},
		{"removing the last key of an imported service", func(c *Change) {
			c.Unset("shared", "DB_PASSWORD")
			c.Unset("shared", "REGION")
			c.Unset("shared", "__sensitive")
		}, map[string]string{"api": "service shared, imported by $api, has no secrets", "web": "service shared, imported by $api",
			"worker": "service shared, referenced by $worker/DB"},
			new(*resolve.NoSecretsError), ""},
		{"an exported shell function", func(c *Change) { c.Set("web", "F", v("() { "+canary+"; }")) },
			map[string]string{"web": "exported shell function"}, new(*resolve.ValueError), "exported shell function"},
		{"a NUL byte", func(c *Change) { c.Set("web", "N", v("a\x00"+canary)) },
			map[string]string{"web": "NUL"}, new(*resolve.ValueError), "NUL"},
		{"a value too large", func(c *Change) { c.Set("web", "BIG", v(canary+strings.Repeat("x", resolve.MaxValueSize))) },
			map[string]string{"web": "128 KiB"}, new(*resolve.ValueError), "128 KiB"},
		{"a new service that does not start", func(c *Change) { c.Set("new-svc", "A", v("#{$/NOPE}")) },
			map[string]string{"new-svc": "no global NOPE"}, new(*resolve.MissingError), ""},
		{"an empty value", func(c *Change) { c.Set("web", "E", v("")) }, nil, nil, "empty value"},
		{"a malformed value no service reads yet", func(c *Change) { c.Set(Global, "UNUSED", v("#{"+canary)) },
			nil, nil, `$/UNUSED: malformed reference at byte 0: unterminated "#{"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env(shop())
			var c Change
			tt.change(&c)
			p := Apply(before, &c)

			err := p.Refusal()
			if err == nil {
				t.Fatalf("Refusal() = nil; want the change refused (impacts %+v)", p.Services)
			}
			if !errors.Is(err, resolve.ErrData) {
				t.Errorf("Refusal() = %v; want it to match resolve.ErrData (exit 65)", err)
			}
			var all []error
			for _, imp := range p.Services {
				all = append(all, imp.Broken...)
				all = append(all, imp.Fixed...)
			}
			all = append(all, p.Invalid...)
			all = append(all, err)
			noCanary(t, all...)

			var broken []string
			for _, imp := range p.Breaks() {
				broken = append(broken, imp.Alias)
			}
			if want := slices.Sorted(maps.Keys(tt.breaks)); !slices.Equal(broken, want) {
				t.Errorf("services broken = %v; want %v", broken, want)
			}
			for alias, want := range tt.breaks {
				imp, _ := impactOf(p, alias)
				text := fmt.Sprint(imp.Broken)
				if !strings.Contains(text, want) {
					t.Errorf("%s: new problems %s; want one holding %q", alias, text, want)
				}
				if !strings.Contains(err.Error(), alias) {
					t.Errorf("Refusal() = %q; want it to name %s", err, alias)
				}
			}
			if len(tt.breaks) > 0 {
				first := slices.Sorted(maps.Keys(tt.breaks))[0]
				imp, _ := impactOf(p, first)
				if !slices.ContainsFunc(imp.Broken, func(e error) bool { return errors.As(e, tt.as) }) {
					t.Errorf("%s: problems %v; want one of type %T", first, imp.Broken, tt.as)
				}
				var se *StartError
				if !slices.ContainsFunc(unjoin(err), func(e error) bool { return errors.As(e, &se) && se.Alias == first }) {
					t.Errorf("Refusal().Unwrap() = %v; want the problems of %s", unjoin(err), first)
				}
			}
			if tt.invalid != "" && !strings.Contains(fmt.Sprint(p.Invalid), tt.invalid) {
				t.Errorf("Invalid = %v; want one holding %q", p.Invalid, tt.invalid)
			}
			if tt.invalid == "" && len(p.Invalid) > 0 {
				t.Errorf("Invalid = %v; want none", p.Invalid)
			}
			// Apply changes nothing of before.
			if !sameParams(before, env(shop())) {
				t.Error("Apply changed its before environment")
			}
		})
	}
}

func sameParams(a, b *Env) bool {
	return len(diff(a, b)) == 0
}

func TestApplyNamesLiteral(t *testing.T) {
	var c Change
	c.Set("shared", "DB_PASSWORD", v("pw#{x"))
	p := Apply(env(shop()), &c)
	var se *resolve.SyntaxError
	if len(p.Invalid) != 1 || !errors.As(p.Invalid[0], &se) || se.Where != "$shared/DB_PASSWORD" {
		t.Fatalf("Invalid = %v; want one *resolve.SyntaxError at $shared/DB_PASSWORD (the tool then suggests --literal)", p.Invalid)
	}
	var lit Change
	lit.Set("shared", "DB_PASSWORD", v(resolve.Escape("pw#{x")))
	p = Apply(env(shop()), &lit)
	if err := p.Refusal(); err != nil {
		t.Fatalf("the escaped value: Refusal() = %v; want nil", err)
	}
	for _, s := range p.After.Start("api").Result.Secrets {
		if s.Key == "DB_PASSWORD" && s.Value.Reveal() != "pw#{x" {
			t.Errorf("api's DB_PASSWORD = %q; want the literal", s.Value.Reveal())
		}
	}
}

func TestApplyAccepts(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Change)
	}{
		{"a new key", func(c *Change) { c.Set("api", "NEW", v("x")) }},
		{"a new sensitive key", func(c *Change) { c.Set("api", "NEW", v("x")); c.SetSensitive("api", "NEW", true) }},
		{"a global nobody reads", func(c *Change) { c.Unset(Global, "UNUSED") }},
		{"a new service", func(c *Change) { c.Set("new", "A", v("#{$/DB_HOST}")) }},
		{"nothing", func(*Change) {}},
		{"the same value again", func(c *Change) { c.Set("api", "TOKEN", v("tok-"+canary)) }},
		{"a rotation", func(c *Change) { c.Set("shared", "DB_PASSWORD", v("new-"+canary)) }},
		{"imports reordered", func(c *Change) { c.SetImports("web", "shared") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Change
			tt.change(&c)
			p := Apply(env(shop()), &c)
			if err := p.Refusal(); err != nil {
				t.Errorf("Refusal() = %v; want nil", err)
			}
			if len(p.Removes()) > 0 {
				t.Errorf("Removes() = %v; want none", p.Removes())
			}
		})
	}
}

func TestApplyReportsOnlyWhatItTouches(t *testing.T) {
	var c Change
	c.Set("shared", "DB_PASSWORD", v("rotated"))
	p := Apply(env(shop()), &c)
	if len(p.Services) != 0 {
		t.Errorf("a rotation: impacts %+v; want none (nothing breaks, nothing moves)", p.Services)
	}
	if !p.Changed() {
		t.Error("Changed() = false; want true")
	}
	var same Change
	same.Set("shared", "DB_PASSWORD", v("pw-"+canary))
	if p := Apply(env(shop()), &same); p.Changed() || len(p.Writes()) != 0 {
		t.Errorf("setting the stored value: Changed %v, writes %v; want nothing", p.Changed(), p.Writes())
	}
}

func TestApplyFixes(t *testing.T) {
	kv := shop()
	kv["api/MY-KEY"] = "chamber wrote this " + canary
	before := env(kv)
	if before.Start("api").OK() {
		t.Fatal("api starts with MY-KEY; want it to fail")
	}
	var c Change
	c.Unset("api", "MY-KEY")
	p := Apply(before, &c)
	if err := p.Refusal(); err != nil {
		t.Fatalf("Refusal() = %v; want nil", err)
	}
	imp, ok := impactOf(p, "api")
	if !ok || len(imp.Fixed) != 1 || !strings.Contains(imp.Fixed[0].Error(), "MY-KEY") || len(imp.Broken) != 0 {
		t.Errorf("api: %+v; want MY-KEY's problem fixed, nothing broken", imp)
	}
	if w := p.Writes(); len(w) != 1 || !w[0].Delete || w[0].Key != "MY-KEY" {
		t.Errorf("Writes() = %+v; want MY-KEY deleted", w)
	}
}

func TestApplyRemovesService(t *testing.T) {
	var c Change
	c.Unset("billing", "STRIPE_KEY")
	c.Unset("billing", "NOTE")
	c.Unset("billing", resolve.SensitiveKey)
	p := Apply(env(shop()), &c)
	if err := p.Refusal(); err != nil {
		t.Errorf("Refusal() = %v; want nil (no other service reads billing)", err)
	}
	if got := p.Removes(); !slices.Equal(got, []string{"billing"}) {
		t.Errorf("Removes() = %v; want [billing]", got)
	}
	imp, _ := impactOf(p, "billing")
	if len(imp.Exports) != 2 || imp.Exports[0].String() != "removes NOTE" || imp.Exports[1].String() != "removes STRIPE_KEY_FILE" {
		t.Errorf("billing exports %v; want NOTE and STRIPE_KEY_FILE removed", imp.Exports)
	}
}

func TestApplyReportsSensitivity(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Change)
		want   map[string][]string // alias → its exports, as strings
	}{
		{"listed as sensitive: the importer and the referrer see it", func(c *Change) { c.SetSensitive("api", "TOKEN", true) },
			map[string][]string{
				"api": {"TOKEN becomes sensitive: TOKEN -> TOKEN_FILE"},
				"web": {"API_URL becomes sensitive: API_URL -> API_URL_FILE"}}},
		{"taken off: the importer's copy goes back to a variable", func(c *Change) { c.SetSensitive("shared", "DB_PASSWORD", false) },
			map[string][]string{
				"shared": {"DB_PASSWORD is no longer sensitive: DB_PASSWORD_FILE -> DB_PASSWORD"},
				"api":    {"DB_PASSWORD is no longer sensitive: DB_PASSWORD_FILE -> DB_PASSWORD"}}},
		{"tainted by a new reference", func(c *Change) { c.Set("worker", "DB", v("#{$/DB_HOST}:#{$shared/DB_PASSWORD}")) },
			map[string][]string{"worker": {"DB becomes sensitive: DB -> DB_FILE"}}},
		{"a key added and one removed", func(c *Change) { c.Set("billing", "NEW", v("x")); c.Unset("billing", "NOTE") },
			map[string][]string{"billing": {"adds NEW", "removes NOTE"}}},
		{"an import added", func(c *Change) { c.SetImports("billing", "shared") },
			map[string][]string{"billing": {"adds DB_PASSWORD_FILE", "adds REGION"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Change
			tt.change(&c)
			p := Apply(env(shop()), &c)
			if err := p.Refusal(); err != nil {
				t.Fatalf("Refusal() = %v; want nil", err)
			}
			got := map[string][]string{}
			for _, imp := range p.Services {
				for _, x := range imp.Exports {
					got[imp.Alias] = append(got[imp.Alias], x.String())
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("exports = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestExportSensitivityChanged(t *testing.T) {
	for _, tc := range []struct {
		x    Export
		want bool
	}{
		{Export{"K", AsVariable, AsFile}, true},
		{Export{"K", AsFile, AsVariable}, true},
		{Export{"K", NotExported, AsFile}, false},
		{Export{"K", AsFile, NotExported}, false},
	} {
		if got := tc.x.SensitivityChanged(); got != tc.want {
			t.Errorf("%v.SensitivityChanged() = %v; want %v", tc.x, got, tc.want)
		}
	}
}

func TestFromStore(t *testing.T) {
	s := &fetch.Environment{
		Prefix:   "/envinit",
		Services: map[string]map[string]fetch.Parameter{"api": {"A": {Name: "/envinit/services/api/A", Version: 3, Modified: stamp, Value: v("a")}}},
		Globals:  map[string]fetch.Parameter{"G": {Name: "/envinit/global/G", Version: 2, Value: v("g")}},
		Strays:   []fetch.Stray{{Parameter: fetch.Parameter{Name: "/envinit/services/api/x/Y"}, Why: "nested"}},
	}
	e := FromStore(s)
	if p, ok := e.Get("api", "A"); !ok || p.Version != 3 || !p.Modified.Equal(stamp) || p.Value.Reveal() != "a" {
		t.Errorf("api/A = %+v, %v; want version 3 of a", p, ok)
	}
	if p, ok := e.Get(Global, "G"); !ok || p.Version != 2 {
		t.Errorf("global G = %+v, %v; want version 2", p, ok)
	}
	if got := e.Services(); !slices.Equal(got, []string{"api"}) {
		t.Errorf("Services() = %v; want [api] (strays are no service)", got)
	}
}
