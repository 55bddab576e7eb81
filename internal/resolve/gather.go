package resolve

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// maxInFlight bounds the Source calls Gather has under way at once, so one
// container's start cannot open a burst of connections against a shared
// SSM quota.
const maxInFlight = 8

// Graph is what Gather collected: the raw parameters of every service and
// global the resolution can reach. Resolve reads it and nothing else.
type Graph struct {
	services map[string]map[string]Value // alias → KEY → raw; empty: no parameters
	globals  map[string]Value            // the globals that exist
	asked    map[string]bool             // every global name asked for
	calls    Calls
}

// Calls counts the Source calls Gather made.
type Calls struct {
	Services int // Source.Service calls (one per service; each may be several pages)
	Globals  int // Source.Globals calls
}

// Calls returns the Source calls made to build g.
func (g *Graph) Calls() Calls { return g.calls }

// Services returns the aliases of every service read, sorted.
func (g *Graph) Services() []string {
	out := make([]string, 0, len(g.services))
	for a := range g.services {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Gather reads the service alias and everything its resolution can reach:
// its imports, transitively, the services and globals named by references
// in their values and in env (the container's environment, KEY=VALUE), and
// whatever those values reference in turn.
//
// Each service is read as soon as it is discovered: an import found on a
// page starts at once. Global names are batched: names found on a
// service's pages wait for that service's last page (or for a full batch of
// MaxGlobalsPerCall), so a service whose keys reference a dozen globals
// costs two GetParameters calls rather than one per page, without adding a
// round trip to the longest chain: the service's pages are that chain.
// Nothing is asked twice. The first error cancels everything else.
//
// Gather does not judge what it reads (missing keys, malformed values):
// Resolve does, so that every problem can be reported at once.
func Gather(ctx context.Context, src Source, alias string, env []string) (*Graph, error) {
	group, ctx := errgroup.WithContext(ctx)
	group.SetLimit(maxInFlight)
	w := &gatherer{
		ctx:  ctx,
		src:  src,
		wake: make(chan struct{}, 1),
		g: &Graph{
			services: map[string]map[string]Value{},
			globals:  map[string]Value{},
			asked:    map[string]bool{},
		},
	}
	w.mu.Lock()
	w.service(alias)
	// Names the container's variables reference go out with the first
	// batch: nothing is lost by waiting for the service's last page.
	for _, v := range ContainerEnv(env) {
		w.discover(v.Value, &w.pending)
	}
	w.mu.Unlock()

	// Calls are started here, in the order they were discovered, and
	// nowhere else: a call that discovers more only queues them, so no
	// call waits for a slot that only it could free. Every queued call is
	// started, even after ctx ends: it then fails at once, and the Source
	// says why (the deadline, a throttled store), not Gather.
	for {
		w.mu.Lock()
		next, busy := w.queue, w.running > 0
		w.queue = nil
		w.mu.Unlock()
		if len(next) == 0 && !busy {
			break
		}
		for _, c := range next {
			group.Go(c)
		}
		if len(next) == 0 {
			<-w.wake // a call under way ends, or one is queued
		}
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	return w.g, nil
}

type gatherer struct {
	ctx  context.Context
	src  Source
	wake chan struct{} // buffered: a call ended or was queued

	mu sync.Mutex // guards everything below
	g  *Graph
	// pending holds the global names ready for the next batch. A call
	// keeps the names it discovers to itself until it ends, so that a
	// service's names travel together whatever else finishes meanwhile.
	pending []string
	queue   []func() error // calls discovered, not yet started
	running int            // calls queued or under way
}

// service starts reading alias unless it was already asked for. mu is held.
func (w *gatherer) service(alias string) {
	if _, ok := w.g.services[alias]; ok {
		return
	}
	w.g.services[alias] = map[string]Value{}
	w.g.calls.Services++
	var held []string
	read := func() error {
		return w.src.Service(w.ctx, alias, func(kv map[string]Value) {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, k := range slices.Sorted(maps.Keys(kv)) {
				v := kv[k]
				w.g.services[alias][k] = v
				switch {
				case k == ImportKey:
					for _, tok := range splitList(v.Reveal()) {
						if a, ok := strings.CutPrefix(tok, "$"); ok && validAlias(a) {
							w.service(a)
						}
					}
				case !isSpecial(k):
					w.discover(v.Reveal(), &held)
				}
			}
			for len(held) >= MaxGlobalsPerCall {
				w.globals(held[:MaxGlobalsPerCall:MaxGlobalsPerCall])
				held = held[MaxGlobalsPerCall:]
			}
		})
	}
	w.start(read, func() {
		w.pending = append(w.pending, held...)
		w.flush()
	})
}

// discover asks for whatever the references in v name: services at once,
// global names into held. A value that does not parse names nothing:
// Resolve reports it. mu is held.
func (w *gatherer) discover(v string, held *[]string) {
	if !hasMarker(v) {
		return
	}
	parts, err := parse("", v)
	if err != nil {
		return
	}
	for _, p := range parts {
		switch {
		case !p.isRef:
		case p.ref.Alias == "":
			w.global(p.ref.Key, held)
		default:
			w.service(p.ref.Alias)
		}
	}
}

// global adds a name not asked for yet to held. The globals' own
// __sensitive travels with the first one: without it no global's
// sensitivity is known. mu is held.
func (w *gatherer) global(name string, held *[]string) {
	if w.g.asked[name] {
		return
	}
	if len(w.g.asked) == 0 && name != SensitiveKey {
		w.global(SensitiveKey, held)
	}
	w.g.asked[name] = true
	*held = append(*held, name)
}

// flush sends every pending name, in batches. mu is held.
func (w *gatherer) flush() {
	for len(w.pending) > 0 {
		n := min(len(w.pending), MaxGlobalsPerCall)
		w.globals(w.pending[:n:n])
		w.pending = w.pending[n:]
	}
}

// globals reads one batch of names. mu is held.
func (w *gatherer) globals(names []string) {
	w.g.calls.Globals++
	var got map[string]Value
	read := func() (err error) {
		got, err = w.src.Globals(w.ctx, names)
		return err
	}
	w.start(read, func() {
		for _, name := range names {
			if v, ok := got[name]; ok {
				w.g.globals[name] = v
				if !isSpecial(name) {
					w.discover(v.Reveal(), &w.pending)
				}
			}
		}
		w.flush()
	})
}

// start queues one Source call; Gather runs it within the bound on calls
// under way, then done with mu held, unless the call failed: the group
// then cancels everything else. mu is held.
func (w *gatherer) start(call func() error, done func()) {
	w.running++
	w.queue = append(w.queue, func() error {
		err := call()
		w.mu.Lock()
		if err == nil {
			done()
		}
		w.running--
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
		return err
	})
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
