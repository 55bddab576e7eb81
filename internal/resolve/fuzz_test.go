package resolve

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzResolve builds a store from lines "services/a/K=value" or
// "global/K=value" and resolves service api against it, with one container
// variable. Whatever the store holds: no panic, no hang, no error text
// holding a value (every value carries the canary), and no secret's bytes
// in a value that would go to the environment.
//
// For the last, each value ends in a tag of its own ("\x01" canary, its
// index, "\x02"; the fuzzed text holds neither control byte, so a tag in a
// result can only have come from the value it tags). A value is a secret
// when it was exported as sensitive, or its owner lists it in __sensitive:
// no exported non-sensitive value may hold a secret's tag, which is to say
// that nothing interpolating a secret reaches the environment.
func FuzzResolve(f *testing.F) {
	for _, seed := range []string{
		"services/api/A=#{$/G}\nglobal/G=#{$b/K}\nservices/b/K=x",
		"services/api/__import_svc=$a, $b\nservices/a/__import_svc=$b\nservices/b/K=#{$a/K}",
		"services/api/A=#{$api/A}",
		"services/api/A=#{$/L}#{$/L}#{$/L}#{$/L}\nglobal/L=#{$/M}#{$/M}#{$/M}#{$/M}\nglobal/M=#{$/L}",
		"services/api/__sensitive=A\nservices/api/A=a\nservices/api/B=##{#{$api/A}#",
		"services/api/LD_PRELOAD=x\nservices/api/__x=y\nservices/api/a-b=() {",
	} {
		f.Add(seed, "E=#{$/G}")
	}
	// Taint through imports and references, with a container variable
	// that interpolates the imported value.
	for _, seed := range []string{
		"services/api/__import_svc=$base\nservices/api/__sensitive=PW\nservices/api/OWN=#{$api/URL}\nservices/base/PW=p\nservices/base/URL=u:#{$base/PW}",
		"services/api/__import_svc=$mid\nservices/api/PW=mine\nservices/api/R=#{$base/URL}\nservices/mid/__import_svc=$base\nservices/mid/__sensitive=PW\nservices/base/PW=p\nservices/base/URL=#{$base/PW}",
		"services/api/URL=#{$mid/URL}\nservices/mid/__import_svc=$base\nservices/mid/__sensitive=PW\nservices/base/URL=#{$base/PW}\nservices/base/PW=p\nservices/api/G=#{$/G}\nglobal/__sensitive=G\nglobal/G=#{$mid/PW}",
	} {
		f.Add(seed, "E=#{$api/URL}")
	}
	f.Fuzz(func(t *testing.T, spec, envVar string) {
		if strings.ContainsAny(spec+envVar, "\x01\x02") {
			return
		}
		params := map[string]string{}
		tags := map[string]string{} // parameter name → its value's tag
		for _, line := range strings.Split(spec, "\n") {
			name, val, ok := strings.Cut(line, "=")
			if !ok || strings.Contains(name, canary[:6]) || len(params) >= 64 {
				continue
			}
			if !strings.HasSuffix(name, "/"+ImportKey) && !strings.HasSuffix(name, "/"+SensitiveKey) {
				tags[name] = fmt.Sprintf("\x01%s.%d\x02", canary, len(params))
				val += tags[name]
			}
			params[name] = val
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tags["env"] = "\x01" + canary + ".env\x02"
		env := []string{envVar + tags["env"]}
		g, err := Gather(ctx, &storeSource{params: params}, "api", env)
		if err != nil {
			t.Fatalf("Gather: %v", err)
		}
		start := time.Now()
		res, err := Resolve(g, "api", env)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Resolve took %v", d)
		}
		if err != nil {
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error text holds a value: %q", strings.ReplaceAll(err.Error(), canary, "<CANARY>"))
			}
			return
		}
		checkNoSecretInEnv(t, res, params, tags)
	})
}

// checkNoSecretInEnv fails if a non-sensitive value of res holds the tag of
// a secret: a value exported as sensitive, or one its owner lists in
// __sensitive.
func checkNoSecretInEnv(t *testing.T, res *Result, params, tags map[string]string) {
	t.Helper()
	secrets := map[string]bool{} // parameter names
	for name, list := range params {
		if dir, ok := strings.CutSuffix(name, "/"+SensitiveKey); ok {
			for _, k := range splitList(list) {
				secrets[dir+"/"+k] = true
			}
		}
	}
	name := func(s Secret) string {
		if s.Origin == OriginEnv {
			return "env"
		}
		return "services/" + s.Origin + "/" + s.Key
	}
	all := append(slices.Clone(res.Secrets), res.Env...)
	for _, s := range all {
		if s.Sensitive {
			secrets[name(s)] = true
		}
	}
	for _, s := range all {
		if s.Sensitive {
			continue
		}
		for secret := range secrets {
			if tag, ok := tags[secret]; ok && strings.Contains(s.Value.Reveal(), tag) {
				t.Errorf("%s (from %s) is not sensitive, but it interpolates %s, a secret", s.Key, name(s), secret)
			}
		}
	}
}
