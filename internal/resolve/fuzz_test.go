package resolve

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzResolve builds a store from lines "services/a/K=value" or
// "global/K=value" and resolves service api against it, with one container
// variable. Whatever the store holds: no panic, no hang, and no error text
// holding a value (every value carries the canary).
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
	f.Fuzz(func(t *testing.T, spec, envVar string) {
		params := map[string]string{}
		for _, line := range strings.Split(spec, "\n") {
			name, val, ok := strings.Cut(line, "=")
			if !ok || strings.Contains(name, canary[:6]) || len(params) >= 64 {
				continue
			}
			if !strings.HasSuffix(name, "/"+ImportKey) && !strings.HasSuffix(name, "/"+SensitiveKey) {
				val += canary
			}
			params[name] = val
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		env := []string{envVar + canary}
		g, err := Gather(ctx, &storeSource{params: params}, "api", env)
		if err != nil {
			t.Fatalf("Gather: %v", err)
		}
		start := time.Now()
		_, err = Resolve(g, "api", env)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Resolve took %v", d)
		}
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Fatalf("error text holds a value: %q", strings.ReplaceAll(err.Error(), canary, "<CANARY>"))
		}
	})
}
