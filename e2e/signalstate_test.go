package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// COMMAND starts with the signal state envinit started with: the same
// blocked set and the same ignored set (an inherited SIGHUP or SIGINT
// ignored stays ignored; nothing is newly blocked or ignored), as tini
// gives its child. Each state is compared with what the same launch gives
// without envinit in between, seen by a C program (cat, which leaves its
// signals alone) and by the probe.
func TestSignalStateInherited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		launch []string // probe launch flags
	}{
		{"as started", nil},
		{"SIGHUP and SIGINT ignored, SIGUSR1 and SIGUSR2 blocked", []string{"--ignore", "1,2", "--block", "10,12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{"services/api/PLAIN": "plain"})
			via := append(append([]string{probeBin, "launch"}, tc.launch...), "--")

			direct, err := exec.Command(via[0], append(via[1:], "/bin/cat", "/proc/self/status")...).Output()
			if err != nil {
				t.Fatalf("launch cat: %v", err)
			}
			r := startVia(t, via, f.env("api"), "--", "/bin/cat", "/proc/self/status").wait(t)
			assertCode(t, r, 0)
			for _, field := range []string{"SigBlk", "SigIgn"} {
				if got, want := status(r.Stdout, field), status(string(direct), field); got != want || want == "" {
					t.Errorf("%s of COMMAND (cat): got %s; want %s, what envinit started with", field, got, want)
				}
			}

			probeDirect, err := exec.Command(via[0], append(via[1:], probeBin, "report")...).Output()
			if err != nil {
				t.Fatalf("launch probe: %v", err)
			}
			want := parseProbe(t, string(probeDirect))
			r = startVia(t, via, f.env("api"), "--", probeBin, "report").wait(t)
			assertCode(t, r, 0)
			p := parseProbe(t, r.Stdout)
			if p.SigBlk != want.SigBlk || p.SigIgn != want.SigIgn {
				t.Errorf("probe's SigBlk/SigIgn: got %s/%s; want %s/%s", p.SigBlk, p.SigIgn, want.SigBlk, want.SigIgn)
			}
		})
	}
}

// status returns a field of a /proc/PID/status text.
func status(text, name string) string {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// A SIGINT that envinit's parent ignores (a job a shell started in the
// background) does not stop envinit either: it is not watched, so it stays
// ignored, and the start goes on to its own end (here the store's
// deadline, 69), not 130.
func TestSignalIgnoredSIGINTDoesNotStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	url, accepted := blackhole(t)
	env := withEnv(f.env("api", "ENVINIT_TIMEOUT=3s"), awsEnvFor(url)...)
	run := startVia(t, []string{probeBin, "launch", "--ignore", "2", "--"}, env, f.probe()...)
	awaitStore(t, run, accepted)
	run.signal(t, syscall.SIGINT)
	r := run.wait(t)
	assertCode(t, r, 69)
	assertEmptyDir(t, f.secrets)
	assertNotStarted(t, f.marker)
}
