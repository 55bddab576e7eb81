package e2e

import (
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// ENVINIT_USER: COMMAND runs as that user and can read its secret files,
// which it owns, mode 0400. A world-writable secrets dir (docker --tmpfs
// is 1777) must not stay writable by others. A directory the user could not
// enter must not yield a COMMAND that cannot read its KEY_FILE: either
// envinit makes the file reachable, or it fails closed with 73.
func TestRunAsUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	const uid, gid = 65534, 65534
	cases := []struct {
		name string
		mode os.FileMode
		user string
	}{
		{"docker tmpfs dir 1777", 0o777 | os.ModeSticky, "65534:65534"},
		{"dir 0755", 0o755, "65534:65534"},
		{"root-only dir 0700", 0o700, "65534:65534"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := "pw=" + newCanary("api/PW") + "\n"
			f.seed(t, map[string]string{
				"services/api/__sensitive": "PW",
				"services/api/PW":          secret,
				"services/api/PLAIN":       "plain",
			})
			if err := os.Chmod(f.secrets, tc.mode); err != nil {
				t.Fatal(err)
			}
			// No marker: the user could not write it.
			r := runEnvinit(t, f.env("api", "ENVINIT_USER="+tc.user), "--", probeBin, "report")
			assertStderrClean(t, r, f.canaries()...)
			if r.Code != 0 {
				assertCode(t, r, 73)
				assertEmptyDir(t, f.secrets)
				return
			}
			p := parseProbe(t, r.Stdout)
			if p.UID != uid || p.GID != gid {
				t.Errorf("COMMAND ran as %d:%d; want %d:%d", p.UID, p.GID, uid, gid)
			}
			if pf := p.Files[filepath.Join(f.secrets, "PW")]; pf.Error != "" {
				t.Errorf("COMMAND cannot read its PW_FILE (%s); want it readable, or envinit to fail with 73", pf.Error)
			} else {
				assertSecretFile(t, p, f.secrets, "PW", secret)
			}
			assertEnv(t, p, "PLAIN", "plain")
			st, err := os.Stat(f.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm()&0o022 != 0 {
				t.Errorf("secrets dir mode after the run: got %v; want it writable by its owner only", st.Mode())
			}
		})
	}
}

// openDir makes a directory every user may search (t.TempDir's parents
// are 0700), removed when the test ends.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "envinit-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// place writes content to dir/name with mode, making dir with dirMode.
func place(t *testing.T, dir string, dirMode os.FileMode, name string, content []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withMissingLoader returns a dynamically linked binary of this machine
// whose PT_INTERP names a loader that does not exist.
func withMissingLoader(t *testing.T) []byte {
	t.Helper()
	for _, path := range []string{"/bin/true", "/usr/bin/true", "/bin/sh"} {
		f, err := elf.Open(path)
		if err != nil {
			continue
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type != elf.PT_INTERP || p.Filesz < 20 {
				continue
			}
			image := readFile(t, path)
			name := []byte("/nonexistent/ld.so")
			copy(image[p.Off:p.Off+p.Filesz], append(name, make([]byte, int(p.Filesz)-len(name))...))
			return image
		}
	}
	t.Skip("no dynamically linked binary on this machine to take an ELF header from")
	return nil
}

// assertNoContent fails if a file in dir holds any byte: what a failed
// exec after the privilege drop may leave, at most.
func assertNoContent(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() != 0 {
			t.Errorf("secrets dir: %s holds %d bytes; want none", e.Name(), info.Size())
		}
	}
}

// With ENVINIT_USER, everything the exec can fail on is checked as that
// user before the first file is written: the command, the directories on
// its way, its #! interpreter, its ELF loader, the size of its arguments
// and environment. Each ends with its exit code and an empty secrets
// directory; and when the exec fails anyway after the drop (an ELF file
// the kernel cannot load: its validity is the kernel's to judge), the files
// it leaves behind, which the user may no longer remove, hold nothing.
func TestRunAsUserExecFailsBeforeWriting(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	probe := readFile(t, probeBin)
	root := openDir(t)
	rootOnly := place(t, filepath.Join(root, "rootonly"), 0o755, "probe", probe, 0o700)
	open := place(t, filepath.Join(root, "open"), 0o755, "probe", probe, 0o755)
	hidden := place(t, filepath.Join(root, "hidden"), 0o700, "probe", probe, 0o755)
	noInterp := place(t, root, 0o755, "no-interp", []byte("#!/nonexistent/interpreter\n"), 0o755)
	hiddenInterp := place(t, root, 0o755, "hidden-interp", []byte("#!"+hidden+" report\n"), 0o755)
	noLoader := place(t, root, 0o755, "no-loader", withMissingLoader(t), 0o755)
	badELF := place(t, root, 0o755, "bad-elf", []byte("\x7fELF, and then nothing the kernel can load"), 0o755)

	var stack syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &stack); err != nil {
		t.Fatal(err)
	}
	limit := max(min(stack.Cur/4, 6<<20), 128<<10)
	big := map[string]string{"global/G": newCanary("global/G") + strings.Repeat("y", 4000)}
	for i := range int(limit/100_000) + 2 { // 100 kB each: past the limit
		big[fmt.Sprintf("services/api/BIG%02d", i)] = strings.Repeat("#{$/G}", 25)
	}

	cases := []struct {
		name  string
		argv  []string
		path  string
		extra map[string]string
		want  int
		says  []string
	}{
		{name: "a command only root may execute", argv: []string{rootOnly, "report"}, want: 126, says: []string{rootOnly, "permission denied"}},
		{name: "a root-only copy earlier in PATH", argv: []string{"probe", "report"}, path: filepath.Dir(rootOnly) + ":" + filepath.Dir(open), want: 0},
		{name: "a directory the user cannot search", argv: []string{"probe", "report"}, path: filepath.Dir(hidden), want: 126, says: []string{"directory " + filepath.Dir(hidden) + " cannot be searched"}},
		{name: "a missing #! interpreter", argv: []string{noInterp}, want: 126, says: []string{"#! interpreter /nonexistent/interpreter is missing"}},
		{name: "a #! interpreter the user cannot reach", argv: []string{hiddenInterp}, want: 126, says: []string{"#! interpreter " + hidden, "cannot be searched"}},
		{name: "a missing ELF loader", argv: []string{noLoader}, want: 126, says: []string{"ELF loader /nonexistent/ld.so is missing"}},
		{name: "arguments and environment over the kernel's limit", argv: []string{open, "report"}, extra: big, want: 65, says: []string{fmt.Sprintf("execve takes at most %d", limit), "mark large keys sensitive"}},
		{name: "an ELF file the kernel refuses, after the drop", argv: []string{badELF}, want: 126, says: []string{"exec format error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			kv := map[string]string{
				"services/api/__sensitive": "PW",
				"services/api/PW":          newCanary("api/PW"),
				"services/api/PLAIN":       "plain",
			}
			maps.Copy(kv, tc.extra)
			f.seed(t, kv)
			env := f.env("api", "ENVINIT_USER=65534:65534")
			if tc.path != "" {
				env = withEnv(env, "PATH="+tc.path)
			}
			args := append([]string{"--"}, tc.argv...)
			r := runEnvinit(t, env, args...)
			assertStderrClean(t, r, f.canaries()...)
			assertCode(t, r, tc.want)
			for _, s := range tc.says {
				if !strings.Contains(r.Stderr, s) {
					t.Errorf("stderr: got %q; want it to say %q", redact(r.Stderr), s)
				}
			}
			switch {
			case tc.want == 0:
				if p := parseProbe(t, r.Stdout); p.UID != 65534 {
					t.Errorf("COMMAND ran as uid %d; want 65534", p.UID)
				}
			case tc.argv[0] == badELF:
				assertNoContent(t, f.secrets)
			default:
				assertEmptyDir(t, f.secrets)
			}
		})
	}
}

// A directory above the secrets directory that ENVINIT_USER may not search
// would give COMMAND KEY_FILEs it cannot open: refused (73), naming it,
// before anything is written.
func TestRunAsUserParentNotSearchable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	f := newFixture(t)
	f.seed(t, map[string]string{"services/api/__sensitive": "PW", "services/api/PW": newCanary("api/PW")})
	closed := shmDir(t)
	dir := filepath.Join(closed, "secrets")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	env := f.env("api", "ENVINIT_USER=65534:65534", "ENVINIT_SECRETS_DIR="+dir)
	r := f.runFail(t, 73, env, f.probe()...)
	if want := closed + ": ENVINIT_USER (uid 65534) may not search"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr: got %q; want it to say %q", redact(r.Stderr), want)
	}
	assertEmptyDir(t, dir)
}

// ENVINIT_USER drops every id, but a setuid-root binary in the image still
// gives root back to whoever runs it. ENVINIT_NO_NEW_PRIVS=true closes
// that: the binary runs with the user's ids. Off by default (see README).
func TestRunAsUserNoNewPrivs(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users and make a setuid binary")
	}
	suid := place(t, openDir(t), 0o755, "probe-suid", readFile(t, probeBin), 0o755)
	if err := os.Chmod(suid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		setting  string
		euid     int
		noNewPrv string
	}{
		{"", 0, "0"}, // the way back to root that the setting closes
		{"ENVINIT_NO_NEW_PRIVS=false", 0, "0"},
		{"ENVINIT_NO_NEW_PRIVS=true", 65534, "1"},
	} {
		t.Run("setting="+tc.setting, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{"services/api/PLAIN": "plain"})
			env := f.env("api", "ENVINIT_USER=65534:65534")
			if tc.setting != "" {
				env = withEnv(env, tc.setting)
			}
			p := f.runOK(t, env, "--", suid, "report")
			if p.UID != 65534 || p.EUID != tc.euid || p.NoNewPrivs != tc.noNewPrv {
				t.Errorf("setuid-root binary as ENVINIT_USER: got uid %d, euid %d, NoNewPrivs %q; want 65534, %d, %q", p.UID, p.EUID, p.NoNewPrivs, tc.euid, tc.noNewPrv)
			}
		})
	}
	t.Run("not a boolean", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, map[string]string{"services/api/PLAIN": "plain"})
		r := f.runFail(t, 78, f.env("api", "ENVINIT_NO_NEW_PRIVS=sometimes"), f.probe()...)
		if !strings.Contains(r.Stderr, "ENVINIT_NO_NEW_PRIVS: not a valid boolean") {
			t.Errorf("stderr: got %q; want it to name ENVINIT_NO_NEW_PRIVS", redact(r.Stderr))
		}
	})
}
