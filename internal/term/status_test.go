package term

import (
	"strings"
	"testing"
	"time"
)

// A long operation shows its progress, one line each time, and a short one
// does not.
func TestStatus(t *testing.T) {
	var b strings.Builder
	s := NewStatus(&b, 0)
	s.every = 0
	s.Show(func() string { return "50 listed" })
	s.Show(func() string { return "120 listed" })
	s.Done()
	if want := "50 listed\n120 listed\n"; b.String() != want {
		t.Errorf("status: %q; want %q", b.String(), want)
	}
	b.Reset()
	s = NewStatus(&b, time.Hour)
	s.Show(func() string { t.Error("a line made during the silent moment"); return "" })
	s.Done()
	if b.String() != "" {
		t.Errorf("status of a quick operation: %q; want nothing", b.String())
	}
}
