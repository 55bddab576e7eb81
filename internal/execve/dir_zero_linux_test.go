//go:build linux

package execve

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/envinit/envinit/internal/resolve"
)

// The zero Dir holds no descriptor: closing it must not close descriptor
// 0, stdin, and staging a file in it must fail, not write through fd 0.
func TestZeroDirIsSafe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	saved, err := dupStdin(r)
	if err != nil {
		t.Fatal(err)
	}
	defer restoreStdin(saved)

	var d Dir
	if d.Path() != "" {
		t.Errorf("Path() = %q; want empty", d.Path())
	}
	if b, err := d.Stage(nil, -1, -1); err != nil || b.Commit() != nil || b.Discard() != nil {
		t.Errorf("staging nothing in the zero Dir: %v; want nothing done", err)
	}
	_, err = d.Stage([]File{{Key: "K", Value: resolve.NewValue("v")}}, -1, -1)
	if !errors.Is(err, ErrFiles) {
		t.Errorf("Stage of a file in the zero Dir = %v; want ErrFiles", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close() = %v; want nil", err)
	}
	if _, err := os.Stdin.Stat(); err != nil {
		t.Errorf("stdin after closing the zero Dir: %v; want it still open", err)
	}
}

// dupStdin makes f descriptor 0 and returns a copy of the old one.
func dupStdin(f *os.File) (int, error) {
	saved, err := unix.Dup(0)
	if err != nil {
		return -1, err
	}
	return saved, unix.Dup3(int(f.Fd()), 0, 0)
}

func restoreStdin(saved int) {
	_ = unix.Dup3(saved, 0, 0)
	_ = unix.Close(saved)
}
