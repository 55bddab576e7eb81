package e2e

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Lossless copies through the real binary: random services exported and
// imported into a fresh prefix, and copied within one, start exactly as
// they did.

// randomServices is an environment whose every service starts: globals,
// services s0..sN whose values mix literal text that trips parsers
// (newlines, "=", quotes, "$", "#", " # ", "#{" meant literally and so
// stored "##{") with references to the globals and to earlier services'
// keys, sensitive keys, and imports of earlier services. Every value
// holds a canary.
func randomServices(r *rand.Rand) (kv map[string]string, services []string) {
	kv = map[string]string{}
	var refs []string
	for i := range 1 + r.IntN(2) {
		name := fmt.Sprintf("G%d", i)
		kv["global/"+name] = randomLiteral(r, "global/"+name)
		refs = append(refs, "#{$/"+name+"}")
	}
	if r.IntN(2) == 0 {
		kv["global/__sensitive"] = "G0"
	}
	for s := range 1 + r.IntN(3) {
		alias := fmt.Sprintf("s%d", s)
		services = append(services, alias)
		var sensitive []string
		for k := range 1 + r.IntN(3) {
			key := fmt.Sprintf("K%d", k)
			v := randomLiteral(r, alias+"/"+key)
			if r.IntN(2) == 0 {
				v += refs[r.IntN(len(refs))]
			}
			kv["services/"+alias+"/"+key] = v
			if r.IntN(3) == 0 {
				sensitive = append(sensitive, key)
			}
			refs = append(refs, "#{$"+alias+"/"+key+"}")
		}
		if len(sensitive) > 0 {
			kv["services/"+alias+"/__sensitive"] = strings.Join(sensitive, ", ")
		}
		if s > 0 && r.IntN(2) == 0 {
			kv["services/"+alias+"/__import_svc"] = fmt.Sprintf("$s%d", r.IntN(s))
		}
	}
	return kv, services
}

// randomLiteral is a canary among text that trips parsers, stored so that
// it resolves to itself.
func randomLiteral(r *rand.Rand, label string) string {
	pieces := []string{"=", "a=b", "\n", "line\r\n", "#", " # ", "#{", "##{", "{", "}", "$HOME", "${X}", "'", `"`, `\`, "  ", "é", "\t"}
	var b strings.Builder
	for range 1 + r.IntN(4) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	b.WriteString(newCanary(label))
	return strings.ReplaceAll(b.String(), "#{", "##{")
}

// startsOf starts each service with the probe and returns what it got:
// its environment and its files, the secrets directory written DIR.
func startsOf(t *testing.T, f *fixture, prefix string, services []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, alias := range services {
		p := f.runOK(t, f.env(alias, "ENVINIT_PREFIX="+prefix), f.probe()...)
		var lines []string
		for _, kv := range p.Environ {
			lines = append(lines, strings.ReplaceAll(kv, f.secrets, "DIR"))
		}
		for path, file := range p.Files {
			lines = append(lines, "file "+strings.ReplaceAll(path, f.secrets, "DIR")+"="+file.Content)
		}
		slices.Sort(lines)
		out[alias] = strings.Join(lines, "\x00")
	}
	return out
}

func TestExportImportIntoAFreshPrefixIsLossless(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 31))
			f := newFixture(t)
			kv, services := randomServices(r)
			f.seed(t, kv)
			fresh := f.prefix + "-copy"
			format := []string{"dotenv", "json"}[seed%2]

			targets := [][]string{{"--global"}}
			for _, alias := range services {
				targets = append(targets, []string{alias})
			}
			for _, tg := range targets {
				x := toolOK(t, f, f.env(""), "", append([]string{"secrets", "export", "--format", format}, tg...)...)
				toolOK(t, f, f.env("", "ENVINIT_PREFIX="+fresh), x.Stdout, append(append([]string{"secrets", "import"}, tg...), "-")...)
			}

			// Byte for byte, every parameter; and every start the same.
			copyOf := &fixture{e: f.e, prefix: fresh}
			src, dst := storeState(t, f), storeState(t, copyOf)
			for name, v := range src {
				if _, value, _ := strings.Cut(v, " "); !strings.HasSuffix(dst[name], " "+value) || len(dst) != len(src) {
					t.Errorf("%s: imported differently (or %d parameters; want %d)", name, len(dst), len(src))
				}
			}
			before, after := startsOf(t, f, f.prefix, services), startsOf(t, f, fresh, services)
			for _, alias := range services {
				if before[alias] != after[alias] {
					t.Errorf("%s starts differently from the fresh prefix:\n got %s\nwant %s", alias, redact(after[alias]), redact(before[alias]))
				}
			}

			// copy, within the prefix.
			alias := services[r.IntN(len(services))]
			toolOK(t, f, f.env(""), "", "secrets", "copy", alias, "copy")
			if got := startsOf(t, f, f.prefix, []string{"copy"}); got["copy"] != before[alias] {
				t.Errorf("the copy of %s starts differently:\n got %s\nwant %s", alias, redact(got["copy"]), redact(before[alias]))
			}
		})
	}
}
