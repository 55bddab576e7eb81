package impact

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

// Global is the owner of the globals, as in a reference (#{$/KEY}): every
// function that takes an owner takes a service's alias or Global.
const Global = ""

// Param is one stored parameter: its raw value (references unresolved)
// and the store's version and modification time of it.
type Param struct {
	Value    resolve.Value
	Version  int64 // 0: not stored yet, or a store without versions
	Modified time.Time
}

// Env is a snapshot of one environment: the keys of every service and
// the globals, as a start reads them (one level; keys as stored, valid
// names or not). It is not safe for concurrent use while it changes.
type Env struct {
	owners map[string]map[string]Param // Global or alias → KEY → parameter; no empty map
}

// NewEnv returns an empty environment.
func NewEnv() *Env { return &Env{owners: map[string]map[string]Param{}} }

// FromStore is the snapshot of what the tools read from the store. Strays,
// which no start reads, are not part of it.
func FromStore(s *fetch.Environment) *Env {
	e := NewEnv()
	for k, p := range s.Globals {
		e.Put(Global, k, Param{Value: p.Value, Version: p.Version, Modified: p.Modified})
	}
	for alias, kv := range s.Services {
		for k, p := range kv {
			e.Put(alias, k, Param{Value: p.Value, Version: p.Version, Modified: p.Modified})
		}
	}
	return e
}

// Put stores p as owner's key.
func (e *Env) Put(owner, key string, p Param) {
	if e.owners[owner] == nil {
		e.owners[owner] = map[string]Param{}
	}
	e.owners[owner][key] = p
}

// Delete removes owner's key; a service left with no key is no longer a
// service.
func (e *Env) Delete(owner, key string) {
	delete(e.owners[owner], key)
	if len(e.owners[owner]) == 0 {
		delete(e.owners, owner)
	}
}

// Get returns owner's key.
func (e *Env) Get(owner, key string) (Param, bool) {
	p, ok := e.owners[owner][key]
	return p, ok
}

// Keys returns owner's keys, sorted.
func (e *Env) Keys(owner string) []string { return slices.Sorted(maps.Keys(e.owners[owner])) }

// Services returns the aliases of the services, sorted: those with at
// least one parameter.
func (e *Env) Services() []string {
	out := make([]string, 0, len(e.owners))
	for owner := range e.owners {
		if owner != Global {
			out = append(out, owner)
		}
	}
	slices.Sort(out)
	return out
}

// Clone returns a copy that changes independently (values are immutable
// and shared).
func (e *Env) Clone() *Env {
	c := NewEnv()
	for owner, kv := range e.owners {
		c.owners[owner] = maps.Clone(kv)
	}
	return c
}

// Start is Start for service alias of e.
func (e *Env) Start(alias string) *Outcome {
	o, _ := e.start(alias)
	return o
}

// Reads returns what service alias's start reads, existing or not: the
// services whose every key it reads (itself, its imports, the services its
// references name) and the global names its references name, each sorted.
// A change to anything else leaves its start, and its Fingerprint, as
// they are.
func (e *Env) Reads(alias string) (services, globals []string) {
	_, r := e.start(alias)
	return slices.Sorted(maps.Keys(r.services)), slices.Sorted(maps.Keys(r.globals))
}

// start resolves alias and returns what its start read.
func (e *Env) start(alias string) (*Outcome, *reads) {
	src := &source{e: e, reads: &reads{services: map[string]bool{}, globals: map[string]bool{}}}
	o, err := Start(context.Background(), src, alias)
	if err != nil {
		// The snapshot answers every call and never cancels.
		panic("impact: reading a snapshot failed: " + err.Error())
	}
	return o, src.reads
}

// source serves an Env to resolve.Gather as the store, recording what is
// asked.
type source struct {
	e     *Env
	reads *reads
}

// reads is what a start asked of the store: each service (its every key)
// and each global name, whether they exist or not.
type reads struct {
	mu       sync.Mutex
	services map[string]bool
	globals  map[string]bool
}

func (s *source) Service(_ context.Context, alias string, page func(map[string]resolve.Value)) error {
	s.reads.mu.Lock()
	s.reads.services[alias] = true
	s.reads.mu.Unlock()
	kv := make(map[string]resolve.Value, len(s.e.owners[alias]))
	for k, p := range s.e.owners[alias] {
		kv[k] = p.Value
	}
	if len(kv) > 0 {
		page(kv)
	}
	return nil
}

func (s *source) Globals(_ context.Context, names []string) (map[string]resolve.Value, error) {
	s.reads.mu.Lock()
	for _, n := range names {
		s.reads.globals[n] = true
	}
	s.reads.mu.Unlock()
	out := make(map[string]resolve.Value, len(names))
	for _, n := range names {
		if p, ok := s.e.owners[Global][n]; ok {
			out[n] = p.Value
		}
	}
	return out, nil
}

// touches reports whether any of the changed parameters is one r read.
func (r *reads) touches(changed map[string]map[string]bool) bool {
	for owner, keys := range changed {
		if owner != Global && r.services[owner] {
			return true
		}
		if owner == Global {
			for k := range keys {
				if r.globals[k] {
					return true
				}
			}
		}
	}
	return false
}
