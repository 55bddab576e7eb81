package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/envinit/envinit/internal/cli"
	"github.com/envinit/envinit/internal/execve"
)

// signalChild is set in a re-run of the test binary that plays envinit.
const signalChild = "ENVINIT_TEST_SIGNAL_CHILD"

// A SIGTERM or SIGINT that arrives at the last moment before the exec,
// after every earlier check, never lets the command start: envinit exits
// 143 / 130 and the files it wrote are gone. The signal is raised by
// lastMoment, which waits until the watch has it, so the test does not
// depend on timing: it fails every time on a build without the last look.
func TestSignalAtTheLastMoment(t *testing.T) {
	if os.Getenv(signalChild) != "" {
		playEnvinit()
		return
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			secrets, err := os.MkdirTemp("/dev/shm", "envinit-test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(secrets) })
			store := filepath.Join(dir, "store.json")
			if err := os.WriteFile(store, []byte(`{"/envinit/services/api/__sensitive": "PW", "/envinit/services/api/PW": "`+canary+`"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(dir, "started")
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalAtTheLastMoment$")
			cmd.Env = []string{
				signalChild + "=" + fmt.Sprint(int(tc.sig)),
				"ENVINIT_SERVICE=api", "ENVINIT_STORE=file:" + store, "ENVINIT_SECRETS_DIR=" + secrets,
				"MARKER=" + marker,
			}
			out, _ := cmd.CombinedOutput()
			if strings.Contains(string(out), canary) {
				t.Errorf("output holds the secret value")
			}
			if got := cmd.ProcessState.ExitCode(); got != tc.want {
				t.Errorf("exit code: got %d; want %d\n%s", got, tc.want, out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the command started; want it never to start")
			}
			if entries, _ := os.ReadDir(secrets); len(entries) != 0 {
				t.Errorf("secrets dir holds %d entries; want none", len(entries))
			}
		})
	}
}

// playEnvinit runs the exec form with a command that leaves a marker,
// raising the signal at the last moment.
func playEnvinit() {
	var sig int
	fmt.Sscan(os.Getenv(signalChild), &sig)
	// The signal arrives after the last look before the watch stops; the
	// hook returns once the watch has it (the handler runs on some thread,
	// at its pace), so that the run does not depend on timing: a build
	// without the look after stop() execs every time.
	lastMoment = func(ctx context.Context) {
		syscall.Kill(os.Getpid(), syscall.Signal(sig))
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "the signal did not reach the watch in 10s")
		}
	}
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), exec: execve.Exec,
		reader: openReader, writer: openWriter}
	err := a.run(context.Background(), []string{"--", "/bin/sh", "-c", `echo started > "$MARKER"`})
	cli.PrintError(os.Stderr, err)
	os.Exit(exitCode(err))
}
