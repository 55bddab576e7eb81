package e2e

import (
	"os/exec"
	"testing"
)

// TestScriptsShellcheck runs shellcheck over the repository's scripts:
// the release and image scripts run on maintainers' and users' machines,
// where a quoting bug would build the wrong thing.
func TestScriptsShellcheck(t *testing.T) {
	t.Parallel()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skipf("\n\n*** SKIPPING: no shellcheck (apt-get install shellcheck).\n*** The scripts are NOT checked on this machine.\n")
	}
	scripts := []string{"scripts/build", "scripts/release", "scripts/image", "scripts/test", ".ci/run"}
	cmd := exec.Command(sc, scripts...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck %v: %v\n%s", scripts, err, out)
	}
}
