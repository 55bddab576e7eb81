package resolve

import "context"

// MaxGlobalsPerCall is the most names Gather passes to one Source.Globals
// call: SSM's GetParameters takes at most ten.
const MaxGlobalsPerCall = 10

// Source is what Gather asks the store for. It is called from several
// goroutines at once.
type Source interface {
	// Service reads the parameters directly under the service's path and
	// hands them to page as they arrive, one call per page, keyed by the
	// last path segment (the KEY). page is not called concurrently within
	// one Service call. A service with no parameters calls page zero times
	// and returns nil: "no secrets" is for Gather to judge.
	Service(ctx context.Context, alias string, page func(map[string]Value)) error

	// Globals returns those of names that exist as globals, keyed by name;
	// a name missing from the result does not exist. Gather passes at most
	// MaxGlobalsPerCall names, never the same name twice in one run.
	Globals(ctx context.Context, names []string) (map[string]Value, error)
}
