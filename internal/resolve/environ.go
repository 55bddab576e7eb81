package resolve

import "strings"

// Var is one variable of the container's environment.
type Var struct{ Name, Value string }

// ContainerEnv is the one reading of the container's environment
// (os.Environ()) that every part of envinit shares: the resolver, the
// environment COMMAND gets and docker-build. Entries without "=" or with
// an empty name are dropped, and so is every ENVINIT_* name, which
// configures envinit and never reaches COMMAND; of a name given twice the
// first wins, as it does for glibc's getenv and Go's os.Getenv. The order is
// environ's.
func ContainerEnv(environ []string) []Var {
	out := make([]Var, 0, len(environ))
	seen := make(map[string]bool, len(environ))
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.HasPrefix(name, "ENVINIT_") || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, Var{name, value})
	}
	return out
}
