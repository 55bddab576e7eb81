package term

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const canary = "CANARY-t3rm-s3cr3t"

// openPTY returns both ends of a new pseudo-terminal.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	if err := unix.IoctlSetPointerInt(int(control.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(control.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return control, tty
}

// waitEcho waits until the terminal's ECHO flag is on (or off).
func waitEcho(t *testing.T, tty *os.File, on bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO != 0 == on {
			return
		}
	}
	t.Fatalf("ECHO never turned %v", on)
}

type result struct {
	v   string
	err error
}

func readSecret(tty *os.File, prompt string) <-chan result {
	done := make(chan result, 1)
	go func() {
		v, err := ReadSecret(tty, prompt)
		done <- result{v, err}
	}()
	return done
}

func wait(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("ReadSecret did not return")
	}
	return result{}
}

// shown is what the terminal displayed: one read, as the prompt and the
// newlines are there by the time ReadSecret returns.
func shown(control *os.File) string {
	buf := make([]byte, 4096)
	n, _ := control.Read(buf)
	return string(buf[:n])
}

// The value is read with echo off, and the terminal is restored.
func TestReadSecretWithoutEcho(t *testing.T) {
	control, tty := openPTY(t)
	if !IsTerminal(tty) || IsTerminal(os.NewFile(^uintptr(0), "none")) {
		t.Fatal("IsTerminal does not tell a pseudo-terminal from a bad descriptor")
	}
	waitEcho(t, tty, true)
	done := readSecret(tty, "value of $api/K (not echoed): ")
	waitEcho(t, tty, false)
	if _, err := control.WriteString(canary + "\n"); err != nil {
		t.Fatal(err)
	}
	r := wait(t, done)
	if r.err != nil || r.v != canary {
		t.Errorf("ReadSecret = %q, %v; want the value", r.v, r.err)
	}
	waitEcho(t, tty, true)
	out := shown(control)
	if strings.Contains(out, canary) {
		t.Errorf("the terminal echoed the value: %q", strings.ReplaceAll(out, canary, "<CANARY>"))
	}
	if !strings.Contains(out, "value of $api/K (not echoed): ") {
		t.Errorf("terminal showed %q; want the prompt", out)
	}
}

// ^C at the prompt restores the terminal and says so.
func TestReadSecretInterrupted(t *testing.T) {
	_, tty := openPTY(t)
	done := readSecret(tty, "value: ")
	waitEcho(t, tty, false)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := wait(t, done)
	var ie *InterruptedError
	if !errors.As(r.err, &ie) || ie.Signal != syscall.SIGINT {
		t.Errorf("got %v; want an *InterruptedError for SIGINT", r.err)
	}
	waitEcho(t, tty, true)
}

// With no /dev/tty and no terminal on stdin there is nothing to prompt on.
func TestWithTerminalNeedsOne(t *testing.T) {
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		f.Close()
		t.Skip("this test runs with a controlling terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	called := false
	err = WithTerminal(r, func(*os.File) error { called = true; return nil })
	if err == nil || called {
		t.Errorf("WithTerminal over a pipe: got %v, called %v; want an error", err, called)
	}
	_, tty := openPTY(t)
	var got *os.File
	if err := WithTerminal(tty, func(f *os.File) error { got = f; return nil }); err != nil || got != tty {
		t.Errorf("WithTerminal over a terminal stdin: got %v, %v; want stdin", got, err)
	}
}
