package impact

import (
	"slices"
	"strings"
)

// Survey is every service's next start from one snapshot, and what no
// start reads: what envinit check --all reports.
type Survey struct {
	// Starts holds every service's Outcome, sorted by alias.
	Starts []*Outcome
	// Unreferenced are the services no other service's start reads (no
	// import, no reference names them): each is read only by the
	// containers that name it, if any does.
	Unreferenced []string
	// Unread are the globals no start reads (no reference names them),
	// special keys aside; a container's own variable may still reference
	// one, which the store cannot tell.
	Unread []string
}

// Survey resolves every service of e, each once, as Start does.
func (e *Env) Survey() *Survey {
	s := &Survey{}
	referenced, read := map[string]bool{}, map[string]bool{}
	for _, alias := range e.Services() {
		o, r := e.start(alias)
		s.Starts = append(s.Starts, o)
		for a := range r.services {
			referenced[a] = referenced[a] || a != alias
		}
		for g := range r.globals {
			read[g] = true
		}
	}
	for _, alias := range e.Services() {
		if !referenced[alias] {
			s.Unreferenced = append(s.Unreferenced, alias)
		}
	}
	for _, k := range e.Keys(Global) {
		if !read[k] && !strings.HasPrefix(k, "__") {
			s.Unread = append(s.Unread, k)
		}
	}
	slices.Sort(s.Unreferenced)
	return s
}
