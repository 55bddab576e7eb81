package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

var (
	// errInstallUsage marks a bad `envinit install` command line (exit 64).
	errInstallUsage = errors.New("usage: envinit install DIR")
	// errInstall marks an install that could not put the binary in place
	// (exit 73, EX_CANTCREAT). Its text prefixes every such error.
	errInstall = errors.New("install")
)

// runInstall is `envinit install DIR`, the Kubernetes init-container step:
// it copies the running binary to DIR/envinit, a volume the app container
// mounts, so the app image needs nothing baked in. DIR must already exist:
// creating it would hide a volume that was not mounted where the manifest
// says, and the app container would then fail with a far less clear error.
func runInstall(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("install", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: envinit install DIR\n\ncopies this envinit binary to DIR/envinit (mode 0755, atomically)")
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errInstallUsage, err)
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return fmt.Errorf("%w: want one directory, got %d arguments", errInstallUsage, flags.NArg())
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w: cannot find the running binary: %w", errInstall, err)
	}
	dst, err := installFile(self, flags.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed %s\n", dst)
	return nil
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
