package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/install"
)

func TestInstallCopiesTheRunningBinary(t *testing.T) {
	dir := t.TempDir()
	r := runApp(t, nil, "install", dir)
	if r.err != nil {
		t.Fatalf("envinit install: %v", r.err)
	}
	dst := filepath.Join(dir, "envinit")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	assertInstalledCopy(t, dst, self)
	info, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode(); got != 0o755 {
		t.Errorf("mode of %s: got %v; want -rwxr-xr-x", dst, got)
	}
	if got, want := r.stdout, "installed "+dst+"\n"; got != want {
		t.Errorf("stdout: got %q; want %q", got, want)
	}
	assertDirHolds(t, dir, "envinit")
}

func TestInstallRefusesAMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-mounted")
	err := runApp(t, nil, "install", dir).err
	if !errors.Is(err, install.Err) || exitCode(err) != exitCantCreate {
		t.Fatalf("runInstall: got %v; want install.Err for a missing directory", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error: got %q; want it to name %s and say it does not exist", err, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s: got %v; want it still missing (install must not create it)", dir, err)
	}
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
