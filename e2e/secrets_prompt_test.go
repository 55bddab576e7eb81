package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The no-echo prompt of secrets set, at a real pseudo-terminal that is
// the binary's controlling terminal: a mismatch is 65, ^C is 130 with the
// tool's wording, and nothing is written either way.

// openPTY returns the control end of a new pseudo-terminal and its
// terminal end.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	unlock := 0
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, control.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Skipf("unlockpt: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, control.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Skipf("ptsname: %v", errno)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return control, tty
}

// screen is what the terminal showed, read as it comes.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) read(control *os.File) {
	b := make([]byte, 1024)
	for {
		n, err := control.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the terminal has shown want n times.
func (s *screen) waitFor(t *testing.T, want string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Count(s.String(), want) >= n {
			return
		}
	}
	t.Fatalf("the terminal never showed %q %d times; it showed %q", want, n, redact(s.String()))
}

// waitEchoOff waits until the terminal's echo is off: the prompt is
// waiting, and what is typed now is not shown.
func waitEchoOff(t *testing.T, tty *os.File) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var tio syscall.Termios
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); errno != 0 {
			t.Fatalf("TCGETS: %v", errno)
		}
		if tio.Lflag&syscall.ECHO == 0 {
			return
		}
	}
	t.Fatal("the terminal's echo never went off")
}

// promptRun runs envinit with the terminal as its controlling terminal
// and stdin, types each of keys after the prompt it waits for, and
// returns the result and what the terminal showed.
func promptRun(t *testing.T, env []string, steps []struct{ after, keys string }, args ...string) (result, string) {
	t.Helper()
	control, tty := openPTY(t)
	scr := &screen{}
	go scr.read(control)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, envinitBin, args...)
	cmd.Env = env
	cmd.Stdin = tty
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, s := range steps {
		seen[s.after]++
		scr.waitFor(t, s.after, seen[s.after])
		waitEchoOff(t, tty) // the prompt is written before echo goes off
		if _, err := control.WriteString(s.keys); err != nil {
			t.Fatal(err)
		}
	}
	_ = cmd.Wait()
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}, scr.String()
}

func TestSecretsPrompt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{"services/api/K": newCanary("api/K")})
	typed, other := newCanary("typed"), newCanary("typed again")
	f.seeded = append(f.seeded, typed, other)
	env := f.env("")
	type step = struct{ after, keys string }

	// Two entries that differ: 65, nothing written.
	r, shown := promptRun(t, env, []step{{"(not echoed): ", typed + "\r"}, {"again, to confirm: ", other + "\r"}}, "secrets", "set", "api", "NEW")
	assertCode(t, r, 65)
	assertNoLeak(t, r, f.canaries()...)
	assertNoLeak(t, result{Stdout: shown}, f.canaries()...) // no echo
	if !strings.Contains(r.Stderr, "the two entries differ: nothing was written") {
		t.Errorf("mismatch: stderr %s; want it to say the entries differ", redact(r.Stderr))
	}
	if _, _, ok := toolParam(t, f, "services/api/NEW"); ok {
		t.Error("a mismatch wrote the key")
	}

	// ^C at the prompt: 130, the tool's wording, nothing written.
	r, _ = promptRun(t, env, []step{{"(not echoed): ", "\x03"}}, "secrets", "set", "api", "NEW")
	assertCode(t, r, 130)
	if !strings.Contains(r.Stderr, "envinit: interrupted by ^C (SIGINT) at the prompt: nothing was written") || strings.Contains(r.Stderr, "starting the command") {
		t.Errorf("^C: stderr %q; want the prompt's wording", r.Stderr)
	}
	if _, _, ok := toolParam(t, f, "services/api/NEW"); ok {
		t.Error("^C at the prompt wrote the key")
	}

	// A value holding "#{" is pointed out; one that parses is stored as
	// typed, with --literal.
	lit := "pw#{" + typed
	r, shown = promptRun(t, env, []step{{"(not echoed): ", lit + "\r"}, {"again, to confirm: ", lit + "\r"}}, "secrets", "set", "api", "NEW")
	assertCode(t, r, 65)
	if !strings.Contains(shown, `the value holds "#{"`) || !strings.Contains(r.Stderr, "--literal") {
		t.Errorf("a value with #{: terminal %q, stderr %s; want a note and the --literal hint", redact(shown), redact(r.Stderr))
	}
	r, _ = promptRun(t, env, []step{{"(not echoed): ", lit + "\r"}, {"again, to confirm: ", lit + "\r"}}, "secrets", "set", "api", "NEW", "--literal")
	assertCode(t, r, 0)
	if v, _, _ := toolParam(t, f, "services/api/NEW"); v != "pw##{"+typed {
		t.Errorf("set --literal at the prompt stored %q; want the value escaped", redact(v))
	}
}
