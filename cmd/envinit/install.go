package main

import (
	"context"
	"fmt"
	"os"

	"github.com/envinit/envinit/internal/buildinfo"
	"github.com/envinit/envinit/internal/install"
)

var cmdInstall = &command{
	Name:      "install",
	UsageLine: "install DIR",
	Short:     "copy this binary to DIR/envinit (Kubernetes init container)",
	Long: `Copies the running envinit binary to DIR/envinit (a temporary file, synced,
mode 0755, renamed into place): the Kubernetes init-container step that
puts envinit in a volume the app container mounts, so the app image needs
nothing baked in. DIR must already exist: creating it would hide a volume
that was not mounted where the manifest says.

examples:
  envinit install /install`,
	MinArgs: 1, MaxArgs: 1,
	Run: func(_ context.Context, inv *invocation) error {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("%w: cannot find the running binary: %w", install.Err, err)
		}
		dst, err := install.Binary(self, inv.args[0])
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(inv.stdout, "installed %s\n", dst)
		return err
	},
}

// version and commit are stamped at build time by scripts/build:
// -ldflags "-X main.version=v1.2.3 -X main.commit=<full hash>".
var version, commit string

// versionString is the stamped version, else what the build says.
func versionString() string { return buildinfo.Version(version) }
