package execve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/envinit/envinit/internal/resolve"
)

// fsType is path's statfs f_type, worked out apart from the code under test.
func fsType(t *testing.T, path string) uint32 {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		t.Fatal(err)
	}
	return uint32(fs.Type)
}

// shmDir makes a directory on /dev/shm, the memory filesystem the tests
// need; t.TempDir() is on disk.
func shmDir(t *testing.T) string {
	t.Helper()
	if fsType(t, "/dev/shm") != unix.TMPFS_MAGIC {
		t.Skip("/dev/shm is not a tmpfs here; these tests need a memory filesystem")
	}
	dir, err := os.MkdirTemp("/dev/shm", "envinit-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// diskDir is a directory that is not memory-backed.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if typ := fsType(t, dir); typ == unix.TMPFS_MAGIC || typ == unix.RAMFS_MAGIC {
		t.Skipf("%s is memory-backed here; this test needs a disk directory", dir)
	}
	return dir
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func ls(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func file(key, value string) File { return File{Key: key, Value: resolve.NewValue(value)} }

// write opens dir explicitly and stages and commits files as they are.
func write(t *testing.T, dir string, files ...File) *Batch {
	t.Helper()
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatalf("OpenSecretsDir: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	b, err := d.Stage(files, -1, -1)
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if err := b.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return b
}

// setDefaults points the default directories at test ones.
func setDefaults(t *testing.T, run, shm string) {
	t.Helper()
	oldRun, oldShm := runSecrets, devShm
	runSecrets, devShm = run, shm
	t.Cleanup(func() { runSecrets, devShm = oldRun, oldShm })
}

func TestWriteContentAndMode(t *testing.T) {
	dir := shmDir(t)
	files := []File{
		file("NEWLINE", canary+"\n"),
		file("EQUALS", "a=b=c"),
		file("UNICODE", "pässwörd ✓ 密码"),
		file("EMPTY", ""),
	}
	write(t, dir, files...)
	for _, f := range files {
		path := filepath.Join(dir, f.Key)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != f.Value.Reveal() {
			t.Errorf("%s: got %q; want %q", f.Key, got, f.Value.Reveal())
		}
		st, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != 0o400 {
			t.Errorf("%s: got mode %v; want -r--------", f.Key, st.Mode())
		}
	}
	// No temporary file is left behind.
	if got, want := ls(t, dir), []string{"EMPTY", "EQUALS", "NEWLINE", "UNICODE"}; !slices.Equal(got, want) {
		t.Errorf("directory holds %q; want %q", got, want)
	}
}

func TestWriteOwner(t *testing.T) {
	needRoot(t)
	dir := shmDir(t)
	d, err := OpenSecretsDir(dir, uidUser(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := d.Stage([]File{file("TOKEN", canary)}, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != 1000 || sys.Gid != 1000 {
		t.Errorf("got owner %d:%d; want 1000:1000", sys.Uid, sys.Gid)
	}
	if st.Mode() != 0o400 {
		t.Errorf("got mode %v; want -r--------", st.Mode())
	}
}

func TestWriteReplacesPlantedSymlink(t *testing.T) {
	dir, outside := shmDir(t), shmDir(t)
	target := filepath.Join(outside, "victim")
	if err := os.WriteFile(target, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "TOKEN")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, file("TOKEN", canary))

	if got, _ := os.ReadFile(target); string(got) != "untouched" {
		t.Errorf("symlink target: got %q; want %q", got, "untouched")
	}
	st, err := os.Lstat(filepath.Join(dir, "TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() {
		t.Errorf("TOKEN: got mode %v; want a regular file", st.Mode())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "TOKEN")); string(got) != canary {
		t.Errorf("TOKEN: got %q; want the secret", got)
	}
}

func TestWriteReplacesExistingFile(t *testing.T) {
	dir := shmDir(t)
	// A planted readable file, and a previous run's file (a restart over an emptyDir).
	if err := os.WriteFile(filepath.Join(dir, "PLANTED"), []byte("planted"), 0o666); err != nil {
		t.Fatal(err)
	}
	write(t, dir, file("PREVIOUS", "old"))
	write(t, dir, file("PLANTED", canary), file("PREVIOUS", "new"))

	for key, want := range map[string]string{"PLANTED": canary, "PREVIOUS": "new"} {
		path := filepath.Join(dir, key)
		if got, _ := os.ReadFile(path); string(got) != want {
			t.Errorf("%s: got %q; want %q", key, got, want)
		}
		if st, err := os.Stat(path); err != nil || st.Mode() != 0o400 {
			t.Errorf("%s: got %v, %v; want mode -r--------", key, st.Mode(), err)
		}
	}
}

func TestStageFailureLeavesNothing(t *testing.T) {
	dir := shmDir(t)
	names := []string{".t1", ".t2"}
	old := tempName
	tempName = func() string { n := names[0]; names = names[1:]; return n }
	t.Cleanup(func() { tempName = old })
	// The second temporary name is taken by a file hard-linked from
	// elsewhere: O_EXCL refuses to write into it, after the first file is
	// written.
	outside := filepath.Join(shmDir(t), "outside")
	if err := os.WriteFile(outside, []byte("planted"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, filepath.Join(dir, ".t2")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Stage([]File{file("A", canary), file("B", canary)}, -1, -1)
	if !errors.Is(err, ErrFiles) {
		t.Fatalf("got %v; want an ErrFiles", err)
	}
	if !strings.Contains(err.Error(), "B") {
		t.Errorf("got %q; want it to name the key B", err)
	}
	noCanary(t, err)
	if got := ls(t, dir); !slices.Equal(got, []string{".t2"}) {
		t.Errorf("directory holds %q; want only the planted .t2", got)
	}
	if got, _ := os.ReadFile(outside); string(got) != "planted" {
		t.Errorf("planted file: got %q; want %q", got, "planted")
	}
}

func TestStageRejectsBadKey(t *testing.T) {
	dir := shmDir(t)
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, key := range []string{"../ESCAPE", "A/B", "", "1ABC", ".."} {
		_, err := d.Stage([]File{file("OK", canary), file(key, canary)}, -1, -1)
		if !errors.Is(err, ErrFiles) {
			t.Errorf("key %q: got %v; want an ErrFiles", key, err)
		}
		noCanary(t, err)
	}
	if got := ls(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q; want nothing", got)
	}
}

func TestCommitFailureLeavesNothing(t *testing.T) {
	dir := shmDir(t)
	// A non-empty directory where B goes: rename cannot replace it.
	if err := os.MkdirAll(filepath.Join(dir, "B", "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := d.Stage([]File{file("A", canary), file("B", canary), file("C", canary)}, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Commit()
	if !errors.Is(err, ErrFiles) {
		t.Fatalf("got %v; want an ErrFiles", err)
	}
	noCanary(t, err)
	if got := ls(t, dir); !slices.Equal(got, []string{"B"}) {
		t.Errorf("directory holds %q; want only the planted B", got)
	}
}

func TestDiscardAfterCommit(t *testing.T) {
	dir := shmDir(t)
	b := write(t, dir, file("A", canary), file("B", canary))
	if err := b.Discard(); err != nil {
		t.Fatal(err)
	}
	if got := ls(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q; want nothing", got)
	}
}

// After the privileges are dropped, the directory (root's, 0711) no
// longer lets envinit remove the files it wrote for the user; Discard
// still empties them through the descriptors it kept, so no value stays.
func TestDiscardAfterDropEmptiesWhatItCannotRemove(t *testing.T) {
	needRoot(t)
	dir := shmDir(t)
	out := runChild(t, "discard-after-drop", "DIR="+dir)
	if !strings.Contains(out, "discard=ErrFiles") {
		t.Errorf("child: got %q; want Discard to report the files it could not remove (ErrFiles)", out)
	}
	for _, name := range []string{"A", "B"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v; want it left behind, empty", name, err)
			continue
		}
		if len(b) != 0 {
			t.Errorf("%s holds %d bytes after Discard; want none", name, len(b))
		}
	}
}

// childDiscardAfterDrop writes A and B for uid 65534 in DIR, drops to
// that user, then discards them, as envinit does when the exec fails.
func childDiscardAfterDrop() {
	d, err := OpenSecretsDir(os.Getenv("DIR"), uidUser(65534))
	if err != nil {
		fmt.Println("OpenSecretsDir:", err)
		return
	}
	files := []File{{Key: "A", Value: resolve.NewValue(canary)}, {Key: "B", Value: resolve.NewValue(canary)}}
	b, err := d.Stage(files, 65534, 65534)
	if err == nil {
		err = b.Commit()
	}
	if err == nil {
		err = DropPrivileges(User{Spec: "65534", UID: 65534, GID: 65534, Groups: []int{65534}})
	}
	if err != nil {
		fmt.Println("setup:", err)
		return
	}
	fmt.Printf("discard=%s\n", sentinel(b.Discard()))
	os.Exit(0)
}

func TestStageNothingTouchesNothing(t *testing.T) {
	dir := shmDir(t)
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(dir)
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := d.Stage(nil, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(dir)
	if after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("got %v modified %v; want %v modified %v", after.Mode(), after.ModTime(), before.Mode(), before.ModTime())
	}

	// The fallback directory is not even created.
	shm := shmDir(t)
	setDefaults(t, filepath.Join(shm, "missing"), shm)
	d, err = OpenSecretsDir("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Stage(nil, -1, -1); err != nil {
		t.Fatal(err)
	}
	if got := ls(t, shm); len(got) != 0 {
		t.Errorf("%s holds %q; want nothing", shm, got)
	}
}

func TestStageTightensLooseDir(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o777 | os.ModeSticky, 0o775, 0o757} {
		dir := shmDir(t)
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		d, err := OpenSecretsDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(dir); st.Mode().Perm() != mode.Perm() {
			t.Errorf("%v: OpenSecretsDir changed the mode to %v", mode, st.Mode())
		}
		if _, err := d.Stage([]File{file("A", canary)}, -1, -1); err != nil {
			t.Fatal(err)
		}
		d.Close()
		st, _ := os.Stat(dir)
		if got, want := st.Mode(), os.ModeDir|0o711; got != want {
			t.Errorf("%v: got %v; want %v", mode, got, want)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	shm := shmDir(t)
	regular := filepath.Join(shm, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(shm, "link")
	if err := os.Symlink(shmDir(t), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
	}{
		{"not memory-backed", diskDir(t), "not a memory filesystem"},
		{"missing", filepath.Join(shm, "missing"), "cannot open"},
		{"not a directory", regular, "cannot open"},
		{"a symlink", link, "is a symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := OpenSecretsDir(tt.dir, nil)
			if !errors.Is(err, ErrFiles) {
				d.Close()
				t.Fatalf("got %v; want an ErrFiles", err)
			}
			if !strings.Contains(err.Error(), tt.dir) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q; want it to name %s and say %q", err, tt.dir, tt.want)
			}
		})
	}
	// Nothing was written to the disk directory.
	dir := diskDir(t)
	if _, err := OpenSecretsDir(dir, nil); err == nil || !strings.Contains(err.Error(), "tmpfs") {
		t.Errorf("got %v; want an error saying how to mount a tmpfs", err)
	}
	if got := ls(t, dir); len(got) != 0 {
		t.Errorf("%s holds %q; want nothing", dir, got)
	}
}

// A symlink anywhere on the way to the directory is refused and named,
// with openat2 and with the component walk used where openat2 is refused
// (ENOSYS before Linux 5.6, EPERM from an older seccomp profile); a path
// without one opens either way.
func TestOpenRefusesSymlinkedParents(t *testing.T) {
	shm := shmDir(t)
	real := filepath.Join(shm, "real")
	if err := os.MkdirAll(filepath.Join(real, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(shm, "lnk")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(real, "sublnk")); err != nil {
		t.Fatal(err)
	}
	for _, openat := range []struct {
		name string
		err  error
	}{{"openat2", nil}, {"no openat2 (ENOSYS)", unix.ENOSYS}, {"openat2 refused (EPERM)", unix.EPERM}} {
		t.Run(openat.name, func(t *testing.T) {
			if openat.err != nil {
				openat2 = func(int, string, *unix.OpenHow) (int, error) { return -1, openat.err }
				defer func() { openat2 = unix.Openat2 }()
			}
			for _, tt := range []struct{ dir, component string }{
				{filepath.Join(shm, "lnk", "sub"), filepath.Join(shm, "lnk")},
				{filepath.Join(shm, "lnk", "sub", "deeper"), filepath.Join(shm, "lnk")},
				{filepath.Join(real, "sublnk", "deeper"), filepath.Join(real, "sublnk")},
				{filepath.Join(real, "sublnk"), filepath.Join(real, "sublnk")},
			} {
				d, err := OpenSecretsDir(tt.dir, nil)
				if !errors.Is(err, ErrFiles) {
					d.Close()
					t.Errorf("%s: got %v; want an ErrFiles", tt.dir, err)
					continue
				}
				if want := tt.component + ": is a symlink"; !strings.Contains(err.Error(), want) {
					t.Errorf("%s: got %q; want it to say %q", tt.dir, err, want)
				}
			}
			d, err := OpenSecretsDir(filepath.Join(real, "sub", "deeper"), nil)
			if err != nil {
				t.Fatalf("a path without symlinks: %v", err)
			}
			d.Close()
		})
	}
}

// A directory above the secrets directory that ENVINIT_USER may not search
// would hand COMMAND KEY_FILEs it cannot open: refused, naming it.
func TestOpenRefusesParentTheUserCannotSearch(t *testing.T) {
	needRoot(t)
	shm := shmDir(t)
	closed := filepath.Join(shm, "closed")
	dir := filepath.Join(closed, "secrets")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSecretsDir(dir, uidUser(65534))
	if !errors.Is(err, ErrFiles) || !strings.Contains(err.Error(), closed+": ENVINIT_USER (uid 65534) may not search") {
		t.Errorf("got %v; want an ErrFiles naming %s", err, closed)
	}
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatalf("as envinit's own user: %v", err)
	}
	d.Close()
	if err := os.Chmod(closed, 0o711); err != nil {
		t.Fatal(err)
	}
	d, err = OpenSecretsDir(dir, uidUser(65534))
	if err != nil {
		t.Fatalf("once searchable: %v", err)
	}
	d.Close()
}

// Opening the directory removes the temporary files a killed start left,
// of envinit's naming only, unless another envinit holds the directory:
// it may be writing them right now.
func TestOpenRemovesStaleTemporaries(t *testing.T) {
	dir := shmDir(t)
	stale := ".envinit-0123456789abcdef"
	keep := []string{".envinit-0123456789ABCDEF", ".envinit-short", "envinit-0123456789abcdef", "PW", ".envinit-0123456789abcdef0"}
	for _, name := range append([]string{stale}, keep...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(canary), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".envinit-fedcba9876543210"), 0o700); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, ".envinit-fedcba9876543210") // a directory: not a file envinit made

	// Another envinit between its open and its exec holds the lock shared.
	other, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(other, unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stale)); err != nil {
		t.Errorf("with another envinit in the directory, the temporary file was removed (%v); want it kept", err)
	}
	// This one holds it shared too until it execs (here: closes).
	if err := unix.Flock(other, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	d2, err := OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d2.Close()
	if _, err := os.Stat(filepath.Join(dir, stale)); err != nil {
		t.Errorf("while the first envinit still held the directory, the temporary file was removed (%v); want it kept", err)
	}
	d.Close()
	unix.Close(other)

	d, err = OpenSecretsDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	got := ls(t, dir)
	if slices.Contains(got, stale) {
		t.Errorf("directory holds %q; want %s removed", got, stale)
	}
	for _, name := range keep {
		if !slices.Contains(got, name) {
			t.Errorf("directory holds %q; want %s kept", got, name)
		}
	}
}

func TestOpenRejectsForeignOwner(t *testing.T) {
	needRoot(t)
	dir := shmDir(t)
	if err := os.Chown(dir, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSecretsDir(dir, uidUser(1000))
	if !errors.Is(err, ErrFiles) || !strings.Contains(err.Error(), "owned by uid 12345") {
		t.Errorf("got %v; want an ErrFiles naming uid 12345", err)
	}
	// Owned by COMMAND's user is fine.
	d, err := OpenSecretsDir(dir, uidUser(12345))
	if err != nil {
		t.Errorf("owned by the target user: got %v; want no error", err)
	} else {
		d.Close()
	}
}

func TestDefaultDir(t *testing.T) {
	t.Run("memory-backed /run/secrets", func(t *testing.T) {
		run := shmDir(t)
		setDefaults(t, run, shmDir(t))
		d, err := OpenSecretsDir("", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if d.Path() != run {
			t.Errorf("got %s; want %s", d.Path(), run)
		}
	})
	for name, run := range map[string]string{
		"/run/secrets on disk": diskDir(t),
		"no /run/secrets":      "/nonexistent/run/secrets",
	} {
		t.Run(name, func(t *testing.T) {
			shm := shmDir(t)
			setDefaults(t, run, shm)
			d, err := OpenSecretsDir("", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			want := filepath.Join(shm, "envinit")
			if d.Path() != want {
				t.Errorf("got %s; want %s", d.Path(), want)
			}
			if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("OpenSecretsDir created %s: %v", want, err)
			}
			// A strict umask must not lock COMMAND's user out.
			defer syscall.Umask(syscall.Umask(0o077))
			b, err := d.Stage([]File{file("A", canary)}, -1, -1)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(want)
			if err != nil || st.Mode() != os.ModeDir|0o711 {
				t.Errorf("got %v, %v; want %s with mode drwx--x--x", st.Mode(), err, want)
			}
			if got, _ := os.ReadFile(filepath.Join(want, "A")); string(got) != canary {
				t.Errorf("A: got %q; want the secret", got)
			}
		})
	}
	t.Run("/dev/shm on disk", func(t *testing.T) {
		shm := diskDir(t)
		setDefaults(t, "/nonexistent/run/secrets", shm)
		_, err := OpenSecretsDir("", nil)
		if !errors.Is(err, ErrFiles) || !strings.Contains(err.Error(), shm) {
			t.Errorf("got %v; want an ErrFiles naming %s", err, shm)
		}
	})
	t.Run("fallback squatted by another user", func(t *testing.T) {
		needRoot(t)
		shm := shmDir(t)
		setDefaults(t, "/nonexistent/run/secrets", shm)
		squat := filepath.Join(shm, "envinit")
		if err := os.Mkdir(squat, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(squat, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		_, err := OpenSecretsDir("", nil)
		if !errors.Is(err, ErrFiles) || !strings.Contains(err.Error(), squat) {
			t.Errorf("got %v; want an ErrFiles naming %s", err, squat)
		}
	})
	t.Run("fallback is a symlink", func(t *testing.T) {
		shm := shmDir(t)
		setDefaults(t, "/nonexistent/run/secrets", shm)
		if err := os.Symlink(shmDir(t), filepath.Join(shm, "envinit")); err != nil {
			t.Fatal(err)
		}
		_, err := OpenSecretsDir("", nil)
		if !errors.Is(err, ErrFiles) {
			t.Errorf("got %v; want an ErrFiles", err)
		}
	})
}

// A directory ENVINIT_USER cannot search would hand COMMAND a KEY_FILE it
// cannot open: envinit grants search when it may.
func TestStageLetsTheUserReachItsFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write for another user")
	}
	for _, tt := range []struct {
		mode, want os.FileMode
		owner      int
	}{
		{0o700, 0o701, 1000},
		{0o750, 0o751, 1000},
		{0o700, 0o700, 0}, // the owner itself: nothing to grant
		{0o700, 0o700, -1},
	} {
		dir := shmDir(t)
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		d, err := OpenSecretsDir(dir, uidUser(tt.owner))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Stage([]File{file("A", canary)}, tt.owner, tt.owner); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if st, _ := os.Stat(dir); st.Mode().Perm() != tt.want {
			t.Errorf("mode %v for uid %d: got %v; want %v", tt.mode, tt.owner, st.Mode().Perm(), tt.want)
		}
	}
}

// uidUser is the User for uid with that gid and no other group; nil for
// -1, envinit's own.
func uidUser(uid int) *User {
	if uid < 0 {
		return nil
	}
	return &User{Spec: fmt.Sprint(uid), UID: uid, GID: uid, Groups: []int{uid}}
}
