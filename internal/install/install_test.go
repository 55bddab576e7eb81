package install

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallCopiesTheRunningBinary(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dst, err := Binary(self, dir)
	if err != nil || dst != filepath.Join(dir, "envinit") {
		t.Fatalf("Binary: %q, %v; want %s/envinit", dst, err, dir)
	}
	assertInstalledCopy(t, dst, self)
	info, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode(); got != 0o755 {
		t.Errorf("mode of %s: got %v; want -rwxr-xr-x", dst, got)
	}
	assertDirHolds(t, dir, "envinit")
}

func TestInstallReplacesAnExistingBinary(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "envinit")
	if err := os.WriteFile(dst, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	src := tempFileWith(t, "new binary")
	if _, err := Binary(src, dir); err != nil {
		t.Fatalf("Binary: %v", err)
	}
	assertInstalledCopy(t, dst, src)
	now, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	// A rename gives a new inode: a process running the old binary, or
	// reading it, is not disturbed by a half-written file.
	if os.SameFile(old, now) {
		t.Errorf("%s was rewritten in place; want it replaced by a rename", dst)
	}
	assertDirHolds(t, dir, "envinit")
}

func TestInstallRefusesAMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-mounted")
	_, err := Binary(os.Args[0], dir)
	if !errors.Is(err, Err) {
		t.Fatalf("Binary: got %v; want Err for a missing directory", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error: got %q; want it to name %s and say it does not exist", err, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s: got %v; want it still missing (install must not create it)", dir, err)
	}
}

func TestInstallRefusesAFile(t *testing.T) {
	file := tempFileWith(t, "")
	_, err := Binary(os.Args[0], file)
	if !errors.Is(err, Err) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("error: got %v; want one naming %s as not a directory", err, file)
	}
}

func TestInstallLeavesNothingWhenTheCopyFails(t *testing.T) {
	dir := t.TempDir()
	// Reading a directory fails after the temporary file exists.
	_, err := Binary(t.TempDir(), dir)
	if !errors.Is(err, Err) {
		t.Fatalf("Binary: got %v; want Err for an unreadable source", err)
	}
	assertDirHolds(t, dir)
}

func tempFileWith(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertInstalledCopy(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s: got %d bytes differing from %s (%d bytes); want a byte-for-byte copy", got, len(g), want, len(w))
	}
}

// assertDirHolds fails unless dir holds exactly names: no temporary file
// is left behind.
func assertDirHolds(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q; want %q", dir, got, names)
	}
}
