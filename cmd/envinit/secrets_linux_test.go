//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns both ends of a new pseudo-terminal.
func openPTY(t *testing.T) (control, term *os.File) {
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
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return control, term
}

// waitEcho waits until the terminal's ECHO flag is on (or off).
func waitEcho(t *testing.T, term *os.File, on bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tio, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO != 0 == on {
			return
		}
	}
	t.Fatalf("ECHO never turned %v", on)
}

// At a terminal the value is prompted for twice with echo off, and the
// terminal is restored.
func TestPromptSecretWithoutEcho(t *testing.T) {
	control, term := openPTY(t)
	if !isTerminal(int(term.Fd())) {
		t.Fatal("isTerminal = false for a pseudo-terminal")
	}
	waitEcho(t, term, true)

	type result struct {
		v   string
		err error
	}
	var prompts bytes.Buffer
	done := make(chan result, 1)
	go func() {
		v, err := promptSecret(term, &prompts, "$api/K")
		done <- result{v, err}
	}()
	waitEcho(t, term, false)
	if _, err := control.WriteString(valueCanary + "\n" + valueCanary + "\n"); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("promptSecret did not return")
	}
	if r.err != nil || r.v != valueCanary {
		t.Errorf("promptSecret = %q, %v; want the value", r.v, r.err)
	}
	waitEcho(t, term, true)

	// What the terminal showed: no value, only the newlines.
	_ = control.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	shown := make([]byte, 4096)
	n, _ := control.Read(shown)
	if bytes.Contains(shown[:n], []byte(valueCanary)) {
		t.Errorf("the terminal echoed the value: %q", strings.ReplaceAll(string(shown[:n]), valueCanary, "<CANARY>"))
	}
	if !strings.Contains(prompts.String(), "value of $api/K (not echoed): ") || !strings.Contains(prompts.String(), "again") {
		t.Errorf("prompts %q; want the key named and a confirmation", prompts.String())
	}
}

func TestPromptSecretEntriesDiffer(t *testing.T) {
	control, term := openPTY(t)
	done := make(chan error, 1)
	go func() {
		_, err := promptSecret(term, &bytes.Buffer{}, "$api/K")
		done <- err
	}()
	waitEcho(t, term, false)
	control.WriteString("one\ntwo\n")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "differ") || strings.Contains(err.Error(), "one") {
			t.Errorf("got %v; want an error saying the entries differ, without them", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("promptSecret did not return")
	}
	waitEcho(t, term, true)
}
