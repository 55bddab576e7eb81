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

// envinit install DIR copies the running binary there and says where
// (internal/install's tests check the copy itself).
func TestInstallCopiesTheRunningBinary(t *testing.T) {
	dir := t.TempDir()
	r := runApp(t, nil, "install", dir)
	if r.err != nil {
		t.Fatalf("envinit install: %v", r.err)
	}
	dst := filepath.Join(dir, "envinit")
	if got, want := r.stdout, "installed "+dst+"\n"; got != want {
		t.Errorf("stdout: got %q; want %q", got, want)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	got, err1 := os.ReadFile(dst)
	want, err2 := os.ReadFile(self)
	if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %v, %v; want a copy of the running binary, %s", dst, err1, err2, self)
	}
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
