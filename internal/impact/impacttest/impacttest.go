// Package impacttest generates the random environments that the property
// tests of impact and admin start, change and copy, and says what a
// command gets from a start. It is imported by tests only.
package impacttest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

// RandomStore returns an environment whose every service starts, as
// "global/KEY" and "ALIAS/KEY" → stored value: globals G0..Gn and services
// s0..sN whose keys are their own (K<s>_<k>) or named as other services'
// keys are (K<k>: an import overrides them), whose values mix literal text
// (newlines, "=", quotes, "$", "#", " # ", "#{" meant literally and stored
// escaped, so "##{" too) with references to the globals and to earlier
// services' keys; some keys sensitive (", " or "," between them); imports
// of earlier services. Every value holds canary.
func RandomStore(r *rand.Rand, canary string) map[string]string {
	kv := map[string]string{}
	var refs []string // "#{$/G}" or "#{$sI/K}" that resolve
	for i := range 1 + r.IntN(4) {
		name := fmt.Sprintf("G%d", i)
		kv["global/"+name] = randomValue(r, nil, canary)
		refs = append(refs, "#{$/"+name+"}")
	}
	if r.IntN(2) == 0 {
		kv["global/"+resolve.SensitiveKey] = "G0"
	}
	for s := range 1 + r.IntN(5) {
		alias := fmt.Sprintf("s%d", s)
		var keys, sensitive []string
		for k := range 1 + r.IntN(5) {
			key := fmt.Sprintf("K%d_%d", s, k)
			if r.IntN(3) == 0 {
				key = fmt.Sprintf("K%d", k)
			}
			kv[alias+"/"+key] = randomValue(r, refs, canary)
			keys = append(keys, key)
			if r.IntN(3) == 0 {
				sensitive = append(sensitive, key)
			}
		}
		if len(sensitive) > 0 {
			kv[alias+"/"+resolve.SensitiveKey] = strings.Join(sensitive, []string{",", ", "}[r.IntN(2)])
		}
		var imports []string
		for j := range s {
			if r.IntN(3) == 0 {
				imports = append(imports, fmt.Sprintf("$s%d", j))
			}
		}
		if len(imports) > 0 {
			kv[alias+"/"+resolve.ImportKey] = strings.Join(imports, []string{",", ", "}[r.IntN(2)])
		}
		for _, k := range keys {
			refs = append(refs, "#{$"+alias+"/"+k+"}")
		}
	}
	return kv
}

// randomValue is a stored value that starts with canary: literal runs
// (escaped) and references taken from refs.
func randomValue(r *rand.Rand, refs []string, canary string) string {
	pieces := []string{"a", "=", "==x", "\n", "line\r\n", "#", " # ", "#{", "{", "}", "$", "${X}", "'", `"`, `\`, " ", "é", canary}
	var stored strings.Builder
	stored.WriteString(canary)
	for range 1 + r.IntN(4) {
		if len(refs) > 0 && r.IntN(3) == 0 {
			stored.WriteString(refs[r.IntN(len(refs))])
			continue
		}
		var lit strings.Builder
		for range 1 + r.IntN(5) {
			lit.WriteString(pieces[r.IntN(len(pieces))])
		}
		// A literal ending in "#" would escape a reference after it.
		stored.WriteString(resolve.Escape(lit.String() + "."))
	}
	return stored.String()
}

// Started is what COMMAND gets from a start: its environment and its
// files, each as KEY=content.
type Started struct{ Env, Files []string }

// Start is what COMMAND gets from a start that resolved to secrets.
func Start(secrets []resolve.Secret) (Started, error) {
	env, files, err := execve.BuildEnv(execve.Env{Secrets: secrets, Override: true, Dir: "/run/secrets"})
	if err != nil {
		return Started{}, err
	}
	s := Started{Env: env}
	for _, f := range files {
		s.Files = append(s.Files, f.Key+"="+f.Value.Reveal())
	}
	return s, nil
}

// Equal reports whether both starts give COMMAND the same.
func (s Started) Equal(o Started) bool {
	return slices.Equal(s.Env, o.Env) && slices.Equal(s.Files, o.Files)
}

// Redacted is s with canary replaced, for a failure message.
func (s Started) Redacted(canary string) string {
	r := strings.NewReplacer(canary, "<CANARY>")
	redact := func(xs []string) []string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = r.Replace(x)
		}
		return out
	}
	return fmt.Sprintf("%q %q", redact(s.Env), redact(s.Files))
}
