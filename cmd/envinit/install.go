package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
)

// errInstall marks an install that could not put the binary in place
// (exit 73, EX_CANTCREAT). Its text prefixes every such error.
var errInstall = errors.New("install")

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
			return fmt.Errorf("%w: cannot find the running binary: %w", errInstall, err)
		}
		dst, err := installFile(self, inv.args[0])
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

// versionString is the stamped version, else the module version that go
// install recorded, else the commit the binary was built from.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// installFile copies src to dir/envinit the way consul-template writes a
// file: a temporary file in dir, written, synced, chmod 0755, renamed over
// the target. The app container, or a restarted init container, sees
// either the old binary or the new one, never a partial copy. It returns
// the target's path.
func installFile(src, dir string) (string, error) {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: directory %s does not exist: mount the shared volume there first", errInstall, dir)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", errInstall, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%w: %s is not a directory", errInstall, dir)
	}
	dst := filepath.Join(dir, "envinit")

	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("%w: cannot read the running binary: %w", errInstall, err)
	}
	defer in.Close()

	tmp, err := os.CreateTemp(dir, ".envinit-install-*")
	if err != nil {
		return "", fmt.Errorf("%w: cannot write in %s: %w", errInstall, dir, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return "", fmt.Errorf("%w: copy to %s: %w", errInstall, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("%w: sync %s: %w", errInstall, tmp.Name(), err)
	}
	// Chmod on the descriptor: the mode does not depend on the umask.
	if err := tmp.Chmod(0o755); err != nil {
		return "", fmt.Errorf("%w: chmod %s: %w", errInstall, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("%w: close %s: %w", errInstall, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("%w: %w", errInstall, err)
	}
	renamed = true
	// Make the rename itself durable; a volume that cannot sync a
	// directory (some network filesystems) still holds a complete file.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return dst, nil
}
