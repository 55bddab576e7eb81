package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The secrets directory under attack, through the real binary: what the
// unit tests of internal/execve prove on Dir, proven here on what envinit
// does as a whole, as root (the usual ENTRYPOINT) and as another user.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// pathState is what an attack must not change about a path outside the
// secrets directory.
type pathState struct {
	exists  bool
	mode    os.FileMode
	mtime   time.Time
	ino     uint64
	nlink   uint64
	uid     uint32
	content string   // a regular file's
	entries []string // a directory's
}

func snapshot(t *testing.T, path string) pathState {
	t.Helper()
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return pathState{}
	}
	if err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	s := pathState{exists: true, mode: fi.Mode(), mtime: fi.ModTime(), ino: st.Ino, nlink: uint64(st.Nlink), uid: st.Uid}
	switch {
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		s.content = string(b)
	case fi.IsDir():
		entries, err := os.ReadDir(path)
		if err != nil {
			t.Fatalf("read dir %s: %v", path, err)
		}
		for _, e := range entries {
			s.entries = append(s.entries, e.Name())
		}
	}
	return s
}

// assertUntouched fails if path changed since before was taken: created,
// removed, written, chmodded, or (a directory) given new entries.
// nlink is compared by the caller where a link in the secrets dir counts.
func assertUntouched(t *testing.T, what, path string, before pathState) {
	t.Helper()
	after := snapshot(t, path)
	switch {
	case before.exists != after.exists:
		t.Errorf("%s (%s): exists %v before, %v after; want it untouched", what, path, before.exists, after.exists)
	case !before.exists:
	case after.content != before.content:
		t.Errorf("%s: content %q; want %q, untouched", what, redact(after.content), before.content)
	case after.mode != before.mode || after.uid != before.uid || after.ino != before.ino:
		t.Errorf("%s: mode %v uid %d inode %d; want %v uid %d inode %d, untouched", what, after.mode, after.uid, after.ino, before.mode, before.uid, before.ino)
	case !after.mtime.Equal(before.mtime):
		t.Errorf("%s: modified at %v; want untouched since %v", what, after.mtime, before.mtime)
	case !slices.Equal(after.entries, before.entries):
		t.Errorf("%s: holds %v; want %v, untouched", what, after.entries, before.entries)
	}
}

// Everything an attacker who could write to the secrets directory before
// envinit started might leave at the names envinit writes: symlinks out of
// the directory (to a file on disk, a file on tmpfs, a directory, a path
// that does not exist yet), a hard link to a file outside, a world-readable
// file whose descriptor the attacker keeps open, a FIFO that would block a
// writer. Every name ends up a fresh regular file, 0400, owned by
// COMMAND's user, with exactly the value; nothing outside the directory is
// created, written, chmodded or even touched; the attacker's open
// descriptor still reads what it planted, never the secret; and no
// temporary file is left.
func TestAttackPlantedAtTargetNames(t *testing.T) {
	t.Parallel()
	needRoot(t)
	f := newFixture(t)
	keys := []string{"S_LINK_DISK", "S_LINK_SHM", "S_LINK_DIR", "S_LINK_DANGLING", "S_HARDLINK", "S_PLANTED", "S_FIFO"}
	values := map[string]string{}
	kv := map[string]string{"services/api/__sensitive": strings.Join(keys, ","), "services/api/PLAIN": "plain"}
	for _, k := range keys {
		values[k] = "v=" + newCanary("api/"+k) + "\n"
		kv["services/api/"+k] = values[k]
	}
	f.seed(t, kv)

	disk, shm := t.TempDir(), shmDir(t)
	outside := map[string]string{ // what each name points or links to
		"S_LINK_DISK":     filepath.Join(disk, "victim"),
		"S_LINK_SHM":      filepath.Join(shm, "victim"),
		"S_LINK_DIR":      filepath.Join(shm, "victim-dir"),
		"S_LINK_DANGLING": filepath.Join(shm, "not-yet"),
		"S_HARDLINK":      filepath.Join(shm, "hardlinked"),
	}
	for _, p := range []string{outside["S_LINK_DISK"], outside["S_LINK_SHM"], outside["S_HARDLINK"]} {
		if err := os.WriteFile(p, []byte("victim"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(outside["S_LINK_DIR"], 0o755); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"S_LINK_DISK", "S_LINK_SHM", "S_LINK_DIR", "S_LINK_DANGLING"} {
		if err := os.Symlink(outside[k], filepath.Join(f.secrets, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(outside["S_HARDLINK"], filepath.Join(f.secrets, "S_HARDLINK")); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(f.secrets, "S_PLANTED")
	if err := os.WriteFile(planted, []byte("planted"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(planted, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(planted) // the attacker's descriptor
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Mkfifo(filepath.Join(f.secrets, "S_FIFO"), 0o666); err != nil {
		t.Fatal(err)
	}
	before := map[string]pathState{}
	for k, p := range outside {
		before[k] = snapshot(t, p)
	}
	time.Sleep(20 * time.Millisecond) // so that a write would show in the mtime

	p := f.runOK(t, f.env("api"), f.probe()...)
	for _, k := range keys {
		assertSecretFile(t, p, f.secrets, k, values[k])
		if pf := p.Files[filepath.Join(f.secrets, k)]; pf.UID != 0 {
			t.Errorf("%s: owner uid %d; want 0, envinit's (no ENVINIT_USER)", k, pf.UID)
		}
	}
	assertDirHolds(t, f.secrets, keys...)
	for k, p := range outside {
		assertUntouched(t, k+"'s target outside the dir", p, before[k])
	}
	if st := snapshot(t, outside["S_HARDLINK"]); st.nlink != 1 {
		t.Errorf("hard-linked file outside: %d links; want 1 (the planted link replaced, not written through)", st.nlink)
	}
	b, err := io.ReadAll(held)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "planted" {
		t.Errorf("the attacker's open descriptor on S_PLANTED reads %q; want %q, what it planted", redact(string(b)), "planted")
	}
}

// A group- or world-writable directory (docker --tmpfs is 1777, an emptyDir
// 0777) lets anyone rename envinit's files away and plant others. Run as
// root, envinit tightens it to 0711 before writing, keeps its owner, and
// COMMAND's user (ENVINIT_USER) still reads its files.
func TestAttackLooseDirTightened(t *testing.T) {
	t.Parallel()
	needRoot(t)
	for _, tc := range []struct {
		name string
		mode os.FileMode
		user string // ENVINIT_USER; "" for none
	}{
		{"0777 emptyDir", 0o777, ""},
		{"1777 docker tmpfs", 0o777 | os.ModeSticky, ""},
		{"0775 group-writable", 0o775, ""},
		{"0757 world-writable", 0o757, ""},
		{"0777 emptyDir, ENVINIT_USER", 0o777, "65534:65534"},
		{"1777 docker tmpfs, ENVINIT_USER", 0o777 | os.ModeSticky, "65534:65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := newCanary("api/TOKEN")
			f.seed(t, map[string]string{"services/api/__sensitive": "TOKEN", "services/api/TOKEN": secret})
			if err := os.Chmod(f.secrets, tc.mode); err != nil {
				t.Fatal(err)
			}
			env, args := f.env("api"), f.probe()
			uid := 0
			if tc.user != "" {
				env = f.env("api", "ENVINIT_USER="+tc.user)
				args = []string{"--", probeBin, "report"} // nobody cannot write the marker
				uid = 65534
			}
			p := f.runOK(t, env, args...)
			if p.UID != uid {
				t.Errorf("COMMAND ran as uid %d; want %d", p.UID, uid)
			}
			assertSecretFile(t, p, f.secrets, "TOKEN", secret)
			fi, err := os.Stat(f.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fi.Mode(), os.ModeDir|0o711; got != want {
				t.Errorf("secrets dir mode after the run: got %v; want %v", got, want)
			}
			if owner := fi.Sys().(*syscall.Stat_t).Uid; owner != 0 {
				t.Errorf("secrets dir owner after the run: got uid %d; want 0, unchanged", owner)
			}
		})
	}
}

// A directory owned by someone who is neither root, nor envinit, nor
// ENVINIT_USER could have its files swapped by that owner: envinit refuses
// it (73) and writes nothing, whatever its mode. Owned by ENVINIT_USER, it
// is COMMAND's own and fine.
func TestAttackForeignOwnedDir(t *testing.T) {
	t.Parallel()
	needRoot(t)
	for _, tc := range []struct {
		name string
		mode os.FileMode
		user string
		want int
	}{
		{"0700 owned by uid 12345", 0o700, "", 73},
		{"1777 owned by uid 12345", 0o777 | os.ModeSticky, "", 73},
		{"0700 owned by uid 12345, ENVINIT_USER 65534", 0o700, "65534:65534", 73},
		{"0700 owned by ENVINIT_USER 12345", 0o700, "12345:12345", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := newCanary("api/TOKEN")
			f.seed(t, map[string]string{"services/api/__sensitive": "TOKEN", "services/api/TOKEN": secret, "services/api/PLAIN": newCanary("api/PLAIN")})
			if err := os.Chown(f.secrets, 12345, 12345); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f.secrets, tc.mode); err != nil {
				t.Fatal(err)
			}
			env := f.env("api")
			if tc.user != "" {
				env = f.env("api", "ENVINIT_USER="+tc.user)
			}
			if tc.want != 0 {
				before := snapshot(t, f.secrets)
				r := f.runFail(t, tc.want, env, f.probe()...)
				if !strings.Contains(r.Stderr, "owned by uid 12345") {
					t.Errorf("stderr: got %q; want it to say who owns the directory", redact(r.Stderr))
				}
				assertUntouched(t, "the refused secrets dir", f.secrets, before)
				return
			}
			p := f.runOK(t, env, "--", probeBin, "report")
			assertSecretFile(t, p, f.secrets, "TOKEN", secret)
			if p.UID != 12345 {
				t.Errorf("COMMAND ran as uid %d; want 12345", p.UID)
			}
		})
	}
}

// A restart over the directory a previous run filled (a Kubernetes emptyDir
// outlives the container): each file is replaced by a new one in a single
// rename, so a reader sees the old value or the new one, never a partial
// or a missing file; a descriptor opened on the old file keeps the old
// value; the new file is 0400 and owned by the new run's user. A file whose
// key is no longer sensitive stays as it was: envinit cannot tell its own
// old files from others in a shared directory (README).
func TestAttackRestartReplacesAtomically(t *testing.T) {
	t.Parallel()
	needRoot(t)
	f := newFixture(t)
	if err := os.Chmod(f.secrets, 0o777); err != nil { // emptyDir
		t.Fatal(err)
	}
	old1, old2 := "old-"+newCanary("api/S1 v1"), strings.Repeat("old-"+newCanary("api/S2 v1"), 2000)
	f.seed(t, map[string]string{
		"services/api/__sensitive": "S1,S2,STALE",
		"services/api/S1":          old1,
		"services/api/S2":          old2,
		"services/api/STALE":       "stale-" + newCanary("api/STALE"),
	})
	f.runOK(t, f.env("api", "ENVINIT_USER=65534:65534"), "--", probeBin, "report")
	s1, s2 := filepath.Join(f.secrets, "S1"), filepath.Join(f.secrets, "S2")
	before1, before2, beforeStale := snapshot(t, s1), snapshot(t, s2), snapshot(t, filepath.Join(f.secrets, "STALE"))
	held, err := os.Open(s1)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	new1, new2 := "new-"+newCanary("api/S1 v2"), strings.Repeat("new-"+newCanary("api/S2 v2"), 3000)
	f.seed(t, map[string]string{
		"services/api/__sensitive": "S1,S2",
		"services/api/S1":          new1,
		"services/api/S2":          new2,
		"services/api/STALE":       "now plain",
	})

	// A reader hammers S2 during the restart.
	ctx, stop := context.WithCancel(context.Background())
	var reads, bad atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			b, err := os.ReadFile(s2)
			reads.Add(1)
			if err != nil || (string(b) != old2 && string(b) != new2) {
				if bad.Add(1) == 1 {
					firstBad.Store(errors.Join(err, errors.New(describeRead(b, old2, new2))))
				}
			}
		}
	})
	time.Sleep(20 * time.Millisecond)
	p := f.runOK(t, f.env("api", "ENVINIT_USER=1000:1000"), "--", probeBin, "report")
	time.Sleep(20 * time.Millisecond)
	stop()
	wg.Wait()

	if n := bad.Load(); n > 0 {
		t.Errorf("a reader during the restart: %d of %d reads saw neither the old nor the new S2 (first: %v); want one or the other, whole", n, reads.Load(), firstBad.Load())
	}
	assertSecretFile(t, p, f.secrets, "S1", new1)
	assertSecretFile(t, p, f.secrets, "S2", new2)
	for name, b := range map[string]pathState{"S1": before1, "S2": before2} {
		after := snapshot(t, filepath.Join(f.secrets, name))
		if after.ino == b.ino {
			t.Errorf("%s: same inode %d after the restart; want a new file renamed over the old one", name, after.ino)
		}
		if after.uid != 1000 || after.mode != 0o400 {
			t.Errorf("%s: uid %d mode %v; want uid 1000 (the new ENVINIT_USER), mode 0400", name, after.uid, after.mode)
		}
	}
	if b, err := io.ReadAll(held); err != nil || string(b) != old1 {
		t.Errorf("a descriptor opened on the old S1 reads %q (%v); want the old value, untouched", redact(string(b)), err)
	}
	assertUntouched(t, "STALE (no longer sensitive)", filepath.Join(f.secrets, "STALE"), beforeStale)
	assertEnv(t, p, "STALE", "now plain")
	assertDirHolds(t, f.secrets, "S1", "S2", "STALE")
}

func describeRead(b []byte, oldValue, newValue string) string {
	switch {
	case len(b) == 0:
		return "empty"
	case bytes.HasPrefix([]byte(oldValue), b) || bytes.HasPrefix([]byte(newValue), b):
		return "a prefix of a value"
	}
	return "other content"
}

// ENVINIT_SECRETS_DIR naming a symlink: whoever can repoint it chooses
// where the secrets go, so envinit refuses it (73) instead of following it,
// however the path is spelled, and nothing is written where it points.
func TestAttackSymlinkedSecretsDir(t *testing.T) {
	t.Parallel()
	for _, spell := range []string{"link", "link/", "link/.", "./link"} {
		t.Run(spell, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{"services/api/__sensitive": "TOKEN", "services/api/TOKEN": newCanary("api/TOKEN")})
			parent := shmDir(t)
			target := shmDir(t) // memory-backed, so only the link itself is wrong
			if err := os.Symlink(target, filepath.Join(parent, "link")); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, target)
			time.Sleep(20 * time.Millisecond)
			dir := filepath.Join(parent, spell)
			if strings.HasSuffix(spell, "/") || strings.HasPrefix(spell, "./") {
				dir = parent + "/" + spell // keep what filepath.Join would clean away
			}
			r := f.runFail(t, 73, f.env("api", "ENVINIT_SECRETS_DIR="+dir), f.probe()...)
			if !strings.Contains(r.Stderr, "symlink") {
				t.Errorf("stderr: got %q; want it to say the directory is a symlink", redact(r.Stderr))
			}
			assertUntouched(t, "the symlink's target", target, before)
		})
	}
}

// A symlink in a directory above ENVINIT_SECRETS_DIR is refused too
// (73), naming it: whoever can repoint it later would control what
// COMMAND reads through KEY_FILE. Nothing is written through it.
func TestAttackSymlinkedParentOfSecretsDir(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{"services/api/__sensitive": "TOKEN", "services/api/TOKEN": newCanary("api/TOKEN")})
	parent := shmDir(t)
	target := shmDir(t)
	if err := os.Mkdir(filepath.Join(target, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "lnk")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, filepath.Join(target, "sub"))
	time.Sleep(20 * time.Millisecond)
	r := f.runFail(t, 73, f.env("api", "ENVINIT_SECRETS_DIR="+filepath.Join(link, "sub")), f.probe()...)
	if want := link + ": is a symlink"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr: got %q; want it to say %q", redact(r.Stderr), want)
	}
	assertUntouched(t, "the directory behind the symlink", filepath.Join(target, "sub"), before)
	assertEmptyDir(t, filepath.Join(target, "sub"))
}

// A start killed between writing its temporary files and renaming them
// leaves .envinit-* files holding values. The next start removes them
// when it opens the directory, but never while another envinit sharing
// the directory (a pod's emptyDir) holds it: that one may be writing its
// own right now. Names that are not envinit's own are never touched.
func TestAttackStaleTemporariesRemoved(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{"services/api/__sensitive": "TOKEN", "services/api/TOKEN": newCanary("api/TOKEN")})
	stale := filepath.Join(f.secrets, ".envinit-00112233445566ff")
	foreign := filepath.Join(f.secrets, ".envinit-not-ours")
	for _, p := range []string{stale, foreign} {
		if err := os.WriteFile(p, []byte(newCanary("a killed start's temporary file")), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	// Another envinit, between its open and its exec, holds the directory.
	other, err := os.Open(f.secrets)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	f.runOK(t, f.env("api"), f.probe()...)
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("while another envinit held the directory, the temporary file went (%v); want it kept", err)
	}
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	f.runOK(t, f.env("api"), f.probe()...)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file: got %v; want it removed", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a file of another naming: got %v; want it kept", err)
	}
}

// Run as a user other than root (docker run --user 1000), envinit cannot
// tighten a directory it does not own. A world-writable one without the
// sticky bit lets anyone replace its files: refused (73). With the sticky
// bit (docker --tmpfs is 1777, root's), others cannot rename or remove
// envinit's files: used as it is. A directory that is group-writable but
// not sticky lets the group replace them; the README refuses it too.
func TestAttackLooseDirNotRoot(t *testing.T) {
	t.Parallel()
	needRoot(t) // to set the scene and to start envinit as uid 1000
	bin := publicBinaries(t)
	for _, tc := range []struct {
		name string
		mode os.FileMode
		gid  int // the directory's group
		want int
	}{
		{"root's 0777", 0o777, 0, 73},
		{"root's 1777", 0o777 | os.ModeSticky, 0, 0},
		{"root's 0775, group 1000", 0o775, 1000, 73},
		{"root's 1775, group 1000", 0o775 | os.ModeSticky, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := newCanary("api/TOKEN")
			f.seed(t, map[string]string{"services/api/__sensitive": "TOKEN", "services/api/TOKEN": secret})
			if err := os.Chown(f.secrets, 0, tc.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f.secrets, tc.mode); err != nil {
				t.Fatal(err)
			}
			r := runAs(t, bin, 1000, 1000, f.env("api"), "--", bin.probe, "report")
			assertNoLeak(t, result{Stderr: r.Stderr}, f.canaries()...)
			if r.Code != tc.want {
				t.Fatalf("exit code: got %d; want %d\nstderr: %s", r.Code, tc.want, redact(r.Stderr))
			}
			fi, err := os.Stat(f.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != os.ModeDir|tc.mode {
				t.Errorf("secrets dir mode: got %v; want %v, unchanged (envinit may not change it)", fi.Mode(), os.ModeDir|tc.mode)
			}
			if tc.want != 0 {
				assertEmptyDir(t, f.secrets)
				return
			}
			p := parseProbe(t, r.Stdout)
			assertSecretFile(t, p, f.secrets, "TOKEN", secret)
			if pf := p.Files[filepath.Join(f.secrets, "TOKEN")]; pf.UID != 1000 {
				t.Errorf("TOKEN owner: got uid %d; want 1000, envinit's", pf.UID)
			}
		})
	}
}

// binaries are copies of envinit and the probe that any user may run.
type binaries struct{ envinit, probe string }

func publicBinaries(t *testing.T) binaries {
	t.Helper()
	dir, err := os.MkdirTemp("", "envinit-e2e-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := binaries{envinit: filepath.Join(dir, "envinit"), probe: filepath.Join(dir, "probe")}
	for src, dst := range map[string]string{envinitBin: b.envinit, probeBin: b.probe} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// runAs runs envinit as uid:gid (no supplementary groups) with exactly env.
func runAs(t *testing.T, b binaries, uid, gid uint32, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.envinit, args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run envinit as %d:%d: %v", uid, gid, err)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode(), Elapsed: time.Since(start)}
}

// COMMAND inherits no descriptor of envinit's: not the secrets directory
// (which would let it, or anything it runs, reach the files by descriptor
// even after a chmod), not a secret file, not the connection to SSM. It
// has exactly the descriptors the same command has when the test starts it
// directly: stdin, stdout, stderr, and whatever the test process itself
// passes on.
func TestAttackNoInheritedDescriptors(t *testing.T) {
	t.Parallel()
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skipf("no %s: %v", sh, err)
	}
	f := newFixture(t)
	f.seed(t, map[string]string{
		"services/api/__sensitive": "TOKEN",
		"services/api/TOKEN":       newCanary("api/TOKEN"),
		"services/api/V":           "#{$/G}",
		"global/G":                 "g",
	})
	// The shell lists its own descriptors: it is the process envinit
	// became, with what envinit left open.
	script := `for fd in /proc/$$/fd/*; do printf '%s %s\n' "${fd##*/}" "$(readlink "$fd")"; done`
	fds := func(out string) map[string]string {
		m := map[string]string{}
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			fd, target, _ := strings.Cut(line, " ")
			m[fd] = target
		}
		return m
	}
	direct := exec.Command(sh, "-c", script)
	direct.Env = []string{}
	out, err := direct.Output()
	if err != nil {
		t.Fatalf("%s directly: %v", sh, err)
	}
	baseline := fds(string(out))

	r := runEnvinit(t, f.env("api"), "--", sh, "-c", script)
	assertCode(t, r, 0)
	assertStderrClean(t, r, f.canaries()...)
	for fd, target := range fds(r.Stdout) {
		base, ok := baseline[fd]
		switch {
		case !ok:
			t.Errorf("COMMAND inherited descriptor %s -> %s; want only what the command has when started directly (%v)", fd, target, baseline)
		case strings.HasPrefix(target, f.secrets), strings.HasPrefix(target, "socket:") && !strings.HasPrefix(base, "socket:"):
			t.Errorf("COMMAND's descriptor %s is %s; want %s as when started directly", fd, target, base)
		}
	}
}
