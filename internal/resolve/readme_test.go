package resolve

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryForbiddenKey keeps the operator's manual in step
// with the code: every refused key has a row, with its reason.
func TestREADMEListsEveryForbiddenKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(ForbiddenKeys(), [2]string{"ENVINIT_*", ""}, [2]string{"LD_*", ""}) {
		row := "| `" + kv[0] + "` | " + kv[1]
		if !strings.Contains(string(readme), row) {
			t.Errorf("README has no row %q", row)
		}
	}
}
