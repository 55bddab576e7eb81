package resolve

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &gatherer{
		ctx:    ctx,
		cancel: cancel,
		src:    src,
		sem:    make(chan struct{}, maxInFlight),
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
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "ENVINIT_") {
			w.discover(v, &w.pending)
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	return w.g, nil
}

type gatherer struct {
	ctx    context.Context
	cancel context.CancelFunc
	src    Source
	sem    chan struct{}
	wg     sync.WaitGroup

	mu sync.Mutex // guards everything below
	g  *Graph
	// pending holds the global names ready for the next batch. A call
	// keeps the names it discovers to itself until it ends, so that a
	// service's names travel together whatever else finishes meanwhile.
	pending []string
	err     error
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

// start runs one Source call in a goroutine of its own, within the bound
// on calls under way, then done with mu held, unless the call failed. mu is
// held.
func (w *gatherer) start(call func() error, done func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if !w.acquire() {
			return
		}
		err := call()
		<-w.sem
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.fail(err)
			return
		}
		done()
	}()
}

// acquire takes a slot for one Source call, or records why it cannot.
func (w *gatherer) acquire() bool {
	select {
	case w.sem <- struct{}{}:
		return true
	case <-w.ctx.Done():
		w.mu.Lock()
		w.fail(w.ctx.Err())
		w.mu.Unlock()
		return false
	}
}

// fail keeps the first error and stops the rest. mu is held.
func (w *gatherer) fail(err error) {
	if w.err == nil {
		w.err = err
		w.cancel()
	}
}
