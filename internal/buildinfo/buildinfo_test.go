package buildinfo

import (
	"regexp"
	"testing"
)

// A stamped version wins; without one, a test binary (no module
// version, no VCS stamp under go test) still reports something of the
// documented shape.
func TestVersion(t *testing.T) {
	if got := Version("v1.2.3"); got != "v1.2.3" {
		t.Errorf("Version(v1.2.3) = %q; want the stamped version", got)
	}
	if got := Version(""); !regexp.MustCompile(`^(dev|dev-[0-9a-f]{1,12}(-dirty)?|v\S+)$`).MatchString(got) {
		t.Errorf("Version(\"\") = %q; want dev, dev-COMMIT[-dirty] or a module version", got)
	}
}
