package impact

import (
	"slices"
	"testing"
)

// Survey starts every service once, and names the services no other
// service reads and the globals no start reads, a failing start's reads
// included.
func TestSurvey(t *testing.T) {
	kv := shop()
	kv["/__sensitive"] = "UNUSED"
	s := env(kv).Survey()
	var aliases []string
	for _, o := range s.Starts {
		aliases = append(aliases, o.Alias)
		if !o.OK() {
			t.Errorf("start of %s: %v; want it to succeed", o.Alias, o.Problems)
		}
	}
	if want := []string{"api", "billing", "shared", "web", "worker"}; !slices.Equal(aliases, want) {
		t.Errorf("starts %q; want %q, every service, sorted", aliases, want)
	}
	// api is imported by nothing but referenced by web; shared is
	// imported by api and referenced by worker.
	if want := []string{"billing", "web", "worker"}; !slices.Equal(s.Unreferenced, want) {
		t.Errorf("unreferenced %q; want %q", s.Unreferenced, want)
	}
	if want := []string{"UNUSED"}; !slices.Equal(s.Unread, want) {
		t.Errorf("unread %q; want %q (special keys aside)", s.Unread, want)
	}

	// A start that fails still reads what it names.
	kv["broken/X"] = "#{$/NO_SUCH} #{$billing/STRIPE_KEY} #{$/UNUSED}"
	s = env(kv).Survey()
	if want := []string{"broken", "web", "worker"}; !slices.Equal(s.Unreferenced, want) {
		t.Errorf("with a broken service referencing billing: unreferenced %q; want %q", s.Unreferenced, want)
	}
	if len(s.Unread) != 0 {
		t.Errorf("unread %q; want none: the broken service reads UNUSED", s.Unread)
	}
	if o := s.Starts[slices.IndexFunc(s.Starts, func(o *Outcome) bool { return o.Alias == "broken" })]; o.OK() {
		t.Error("broken starts; want its missing global to fail it")
	}
}
