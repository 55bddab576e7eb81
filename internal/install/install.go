// Package install is envinit install: the Kubernetes init-container step
// that copies the running binary into a shared volume, atomically.
package install

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Err marks an install that could not put the binary in place (exit 73,
// EX_CANTCREAT). Its text prefixes every such error.
var Err = errors.New("install")

// Binary copies src to dir/envinit the way consul-template writes a
// file: a temporary file in dir, written, synced, chmod 0755, renamed over
// the target. The app container, or a restarted init container, sees
// either the old binary or the new one, never a partial copy. It returns
// the target's path.
func Binary(src, dir string) (string, error) {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: directory %s does not exist: mount the shared volume there first", Err, dir)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", Err, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%w: %s is not a directory", Err, dir)
	}
	dst := filepath.Join(dir, "envinit")

	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("%w: cannot read the running binary: %w", Err, err)
	}
	defer in.Close()

	tmp, err := os.CreateTemp(dir, ".envinit-install-*")
	if err != nil {
		return "", fmt.Errorf("%w: cannot write in %s: %w", Err, dir, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		return "", fmt.Errorf("%w: copy to %s: %w", Err, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("%w: sync %s: %w", Err, tmp.Name(), err)
	}
	// Chmod on the descriptor: the mode does not depend on the umask.
	if err := tmp.Chmod(0o755); err != nil {
		return "", fmt.Errorf("%w: chmod %s: %w", Err, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("%w: close %s: %w", Err, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("%w: %w", Err, err)
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
