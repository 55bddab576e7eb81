//go:build linux

package execve

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The default directories (the README's Sensitive values); tests point them elsewhere.
var (
	runSecrets = "/run/secrets"
	devShm     = "/dev/shm"
)

// fallbackName is the directory envinit creates in devShm.
const fallbackName = "envinit"

const mountHint = "mount a tmpfs there: docker run --tmpfs /run/secrets, or a Kubernetes emptyDir with medium: Memory"

// Dir is the directory that receives the sensitive values. Every operation
// is relative to a descriptor opened with O_NOFOLLOW, so neither a symlink
// nor a directory swapped in after the checks can redirect a write.
// A Dir is not safe for concurrent use.
//
// The zero Dir is no directory: its Path is "", staging no files does
// nothing, staging files fails, and Close does nothing. Its descriptors
// are valid only when path is set.
type Dir struct {
	path  string
	fd    int // the directory; -1 while it is still to be created in parent
	owner int // the uid COMMAND runs as, or -1

	parent int // devShm, when the fallback directory does not exist yet
}

// OpenSecretsDir chooses and checks the secrets directory. It changes
// nothing but stale temporary files (see clean): a missing fallback
// directory is only created, and a loose mode only tightened, by the first
// Stage that has files to write.
//
// explicit is ENVINIT_SECRETS_DIR: it must exist, be a directory and be
// memory-backed. When it is empty, /run/secrets is used if it exists, is
// memory-backed and writable, else /dev/shm/envinit. No component of the
// path may be a symlink: whoever could repoint one would choose where the
// secrets go, and KEY_FILE would name the link. u is the user COMMAND runs
// as (nil: envinit's own), which may own the directory and must be able to
// search every directory above it. Errors match ErrFiles.
func OpenSecretsDir(explicit string, u *User) (*Dir, error) {
	owner := -1
	if u != nil {
		owner = u.UID
	}
	var d *Dir
	var err error
	switch {
	case explicit != "":
		path, aerr := filepath.Abs(explicit)
		if aerr != nil {
			return nil, &FilesError{Path: explicit, Reason: "cannot make ENVINIT_SECRETS_DIR absolute", Err: aerr}
		}
		d, err = openDir(path, owner)
	case usable(runSecrets):
		d, err = openDir(runSecrets, owner)
	default:
		d, err = openFallback(owner)
	}
	if err != nil {
		return nil, err
	}
	if err := reachable(d.path, u); err != nil {
		d.Close()
		return nil, err
	}
	if d.fd >= 0 {
		d.lock()
	}
	return d, nil
}

// openFallback opens /dev/shm/envinit, or keeps /dev/shm open to create it.
func openFallback(owner int) (*Dir, error) {
	parent, err := openNoSymlinks(devShm, unix.O_RDONLY)
	if err != nil {
		var fe *FilesError
		if errors.As(err, &fe) && fe.Err == nil {
			return nil, err // a symlink
		}
		return nil, &FilesError{Path: devShm, Reason: "cannot open the fallback for " + runSecrets + ", which is not a writable memory filesystem; " + mountHint, Err: err}
	}
	if err := memoryBacked(parent, devShm); err != nil {
		unix.Close(parent)
		return nil, err
	}
	path := filepath.Join(devShm, fallbackName)
	fd, err := openDirFD(parent, fallbackName)
	switch {
	case errors.Is(err, unix.ENOENT):
		return &Dir{path: path, fd: -1, owner: owner, parent: parent}, nil
	case err != nil:
		unix.Close(parent)
		return nil, componentError(parent, fallbackName, path, err)
	}
	unix.Close(parent)
	return vet(&Dir{path: path, fd: fd, owner: owner, parent: -1})
}

// usable reports whether the preferred default is there for envinit to use.
func usable(path string) bool {
	var fs unix.Statfs_t
	if unix.Statfs(path, &fs) != nil || !isMemory(fs) ||
		unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK|unix.X_OK, unix.AT_EACCESS) != nil {
		return false
	}
	fd, err := openNoSymlinks(path, unix.O_RDONLY)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// openDir opens the directory at path, absolute and clean, and vets it.
func openDir(path string, owner int) (*Dir, error) {
	fd, err := openNoSymlinks(path, unix.O_RDONLY)
	if err != nil {
		var fe *FilesError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &FilesError{Path: path, Reason: "cannot open", Err: err}
	}
	return vet(&Dir{path: path, fd: fd, owner: owner, parent: -1})
}

func vet(d *Dir) (*Dir, error) {
	if _, err := d.check(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openat2 is unix.Openat2; tests make it fail as an old kernel or an old
// seccomp profile does.
var openat2 = unix.Openat2

// openNoSymlinks opens the directory at path, absolute and clean, with
// flags (O_RDONLY), following no symlink in any component: openat2 with
// RESOLVE_NO_SYMLINKS, or, where openat2 is refused (ENOSYS before Linux
// 5.6, EPERM from a seccomp profile that predates it), one component at a
// time, each opened with O_NOFOLLOW relative to the one before. Either way
// no component can be swapped for a link between the checks and the open.
// A symlink, or a component that is not a directory, is a *FilesError
// naming that component.
func openNoSymlinks(path string, flags int) (int, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_DIRECTORY | unix.O_CLOEXEC), Resolve: unix.RESOLVE_NO_SYMLINKS}
	fd, err := openat2(unix.AT_FDCWD, path, how)
	if err == nil {
		return fd, nil
	}
	// Refused, or failed: the walk works without openat2 and names the
	// component at fault.
	return walk(path, flags)
}

// walk is openNoSymlinks one component at a time. The directories above
// the last are opened with O_PATH: that needs search permission on them,
// not read, as a path lookup does.
func walk(path string, flags int) (int, error) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if path == "/" {
		parts = []string{"."}
	}
	at := "/"
	for i, part := range parts {
		f := unix.O_PATH
		if i == len(parts)-1 {
			f = flags
		}
		next, err := unix.Openat(fd, part, f|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		name := filepath.Join(at, part)
		if err != nil {
			err = componentError(fd, part, name, err)
			unix.Close(fd)
			return -1, err
		}
		unix.Close(fd)
		fd, at = next, name
	}
	return fd, nil
}

// componentError says why name, at path, could not be opened relative to
// at: a symlink is named as such.
func componentError(at int, name, path string, err error) error {
	var st unix.Stat_t
	if unix.Fstatat(at, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return &FilesError{Path: path, Reason: "is a symlink, which could be pointed elsewhere; give ENVINIT_SECRETS_DIR as a path with no symlink in it (readlink -f shows one)"}
	}
	return &FilesError{Path: path, Reason: "cannot open", Err: err}
}

// reachable checks that u can search every directory above path, so that
// COMMAND can open its KEY_FILEs (check grants search on the directory
// itself). The path has no symlink, so its spelling is its way.
func reachable(path string, u *User) error {
	if u == nil {
		return nil
	}
	var dir string
	if err := asUser(u, func() error { dir = unsearchable(path); return nil }); err != nil {
		return err
	}
	if dir != "" {
		return &FilesError{Path: dir, Reason: fmt.Sprintf("ENVINIT_USER (uid %d) may not search this directory above the secrets directory, so COMMAND could not open its KEY_FILEs; give it search permission (chmod o+x) or choose another ENVINIT_SECRETS_DIR", u.UID)}
	}
	return nil
}

func openDirFD(at int, path string) (int, error) {
	return unix.Openat(at, path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

func isMemory(fs unix.Statfs_t) bool {
	// f_type is 32 bits wide on some architectures and 64 on others.
	t := uint32(fs.Type)
	return t == unix.TMPFS_MAGIC || t == unix.RAMFS_MAGIC
}

func memoryBacked(fd int, path string) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return &FilesError{Path: path, Reason: "cannot statfs", Err: err}
	}
	if !isMemory(fs) {
		return &FilesError{Path: path, Reason: fmt.Sprintf("not a memory filesystem (statfs type %#x), so secrets would reach the disk; %s", uint32(fs.Type), mountHint)}
	}
	return nil
}

// check vets d.fd and returns the mode it must be given before files are
// written there, 0 when it is fine as it is.
//
// The directory must be owned by root, envinit or COMMAND's user: any other
// owner could swap the files. A group- or world-writable directory is the
// default for docker --tmpfs (1777) and a Kubernetes emptyDir (0777);
// whoever can write there can rename the files away and plant its own, so
// envinit tightens it to 0711 when it may (it is root or the owner). When it
// may not, only the sticky bit keeps others from replacing envinit's files.
// A directory COMMAND's user cannot search would hand COMMAND a KEY_FILE it
// cannot open: envinit grants search (o+x, not read) when it may, and
// refuses otherwise.
func (d *Dir) check() (mode uint32, err error) {
	if err := memoryBacked(d.fd, d.path); err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return 0, &FilesError{Path: d.path, Reason: "cannot stat", Err: err}
	}
	euid := os.Geteuid()
	owner := int(st.Uid)
	if owner != 0 && owner != euid && owner != d.owner {
		return 0, &FilesError{Path: d.path, Reason: fmt.Sprintf("owned by uid %d, not by root, envinit (uid %d) or ENVINIT_USER; another user could replace the files", owner, euid)}
	}
	mayChange := euid == 0 || owner == euid
	perm := st.Mode & 0o7777
	switch {
	case perm&0o022 != 0 && mayChange:
		return 0o711, nil
	case perm&0o022 != 0 && perm&unix.S_ISVTX == 0:
		// Group-writable is no better than world-writable: any member
		// of the group could rename the files away and plant its own.
		return 0, &FilesError{Path: d.path, Reason: fmt.Sprintf("writable by its group or by others (mode %#o) without the sticky bit, and envinit (uid %d) may not tighten it; run envinit as root with ENVINIT_USER, or give it a directory it owns", perm, euid)}
	case d.owner >= 0 && d.owner != owner && perm&0o001 == 0 && mayChange:
		return perm | 0o001, nil
	case d.owner >= 0 && d.owner != owner && perm&0o001 == 0:
		return 0, &FilesError{Path: d.path, Reason: fmt.Sprintf("ENVINIT_USER (uid %d) could not reach its files: mode %#o lets only the owner in; give the directory mode 0711", d.owner, perm)}
	}
	return 0, nil
}

// Path is the directory's absolute path: KEY_FILE is Path()/KEY.
func (d *Dir) Path() string { return d.path }

// Close releases the descriptors; they are close-on-exec, so COMMAND never
// inherits them either way.
func (d *Dir) Close() error {
	if d.path == "" {
		return nil // the zero Dir: no descriptor, not even 0
	}
	var errs []error
	for _, fd := range []int{d.fd, d.parent} {
		if fd >= 0 {
			errs = append(errs, unix.Close(fd))
		}
	}
	d.fd, d.parent = -1, -1
	return errors.Join(errs...)
}

// tempName names a file being written; tests replace it. The name need
// not be secret: O_EXCL refuses anything already there.
var tempName = func() string { return fmt.Sprintf(".envinit-%016x", rand.Uint64()) }

// Batch is a set of files written by Stage, moved into place by Commit
// and removed again by Discard.
type Batch struct {
	dir   *Dir
	files []staged
}

type staged struct {
	key, temp string
	committed bool // renamed to key
	// fd stays open for writing (close-on-exec, so COMMAND never has it)
	// until the exec: if the exec fails after the privileges are dropped,
	// the directory may no longer let envinit remove the file, but
	// truncating through fd needs no permission, so no value stays behind.
	fd int
}

// Stage writes every file to a temporary file in d (phase 1 of 2): created
// with O_EXCL|O_NOFOLLOW and mode 0600, written byte for byte, synced,
// chowned to uid:gid (-1 leaves either as it is) and made 0400. On error
// every temporary file is removed again. Nothing in the directory is
// touched when files is empty.
func (d *Dir) Stage(files []File, uid, gid int) (*Batch, error) {
	b := &Batch{dir: d}
	if len(files) == 0 {
		return b, nil
	}
	if d.path == "" {
		return nil, &FilesError{Path: files[0].Key, Reason: "sensitive, but no secrets directory was opened"}
	}
	for _, f := range files {
		if !validName(f.Key) {
			return nil, &FilesError{Path: d.path, Reason: fmt.Sprintf("key %q is not a valid file name", f.Key)}
		}
	}
	if err := d.prepare(); err != nil {
		return nil, err
	}
	chown := (uid >= 0 && uid != os.Geteuid()) || (gid >= 0 && gid != os.Getegid())
	for _, f := range files {
		temp := tempName()
		path := filepath.Join(d.path, temp)
		fd, err := unix.Openat(d.fd, temp, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err != nil {
			_ = b.Discard()
			return nil, &FilesError{Path: path, Reason: "cannot create the file for " + f.Key, Err: err}
		}
		b.files = append(b.files, staged{key: f.Key, temp: temp, fd: fd})
		if err := fill(fd, f, chown, uid, gid); err != nil {
			_ = b.Discard()
			return nil, &FilesError{Path: path, Reason: "cannot write the file for " + f.Key, Err: err}
		}
	}
	return b, nil
}

// prepare creates the fallback directory if it is missing, and tightens a
// directory others may write to, both to mode 0711.
func (d *Dir) prepare() error {
	created := false
	if d.fd < 0 {
		err := unix.Mkdirat(d.parent, fallbackName, 0o711)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &FilesError{Path: d.path, Reason: "cannot create", Err: err}
		}
		created = err == nil
		// Whether we made it or lost a race, vet what is there now.
		fd, err := openDirFD(d.parent, fallbackName)
		if err != nil {
			return componentError(d.parent, fallbackName, d.path, err)
		}
		d.fd = fd
		d.lock()
	}
	mode, err := d.check()
	if err != nil {
		return err
	}
	// A directory we made got 0711 less the umask: COMMAND's user must
	// still be able to reach its files.
	if created && mode == 0 {
		mode = 0o711 // whatever the umask made of it
	}
	if mode != 0 {
		if err := unix.Fchmod(d.fd, mode); err != nil {
			return &FilesError{Path: d.path, Reason: fmt.Sprintf("cannot set mode %#o", mode), Err: err}
		}
	}
	return nil
}

// fill writes f to the file open at fd, which it leaves open.
func fill(fd int, f File, chown bool, uid, gid int) error {
	for b := []byte(f.Value.Reveal()); len(b) > 0; {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	if err := unix.Fsync(fd); err != nil {
		return err
	}
	if chown {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return err
		}
	}
	return unix.Fchmod(fd, 0o400)
}

// Commit renames every staged file over {dir}/{KEY} (phase 2). A rename
// replaces a planted symlink or file instead of following or exposing it,
// and replaces a previous run's file atomically. If one rename fails, the
// whole batch is removed and the error matches ErrFiles.
func (b *Batch) Commit() error {
	d := b.dir
	for i := range b.files {
		f := &b.files[i]
		if err := unix.Renameat(d.fd, f.temp, d.fd, f.key); err != nil {
			_ = b.Discard()
			return &FilesError{Path: filepath.Join(d.path, f.key), Reason: "cannot move the file into place", Err: err}
		}
		f.committed = true
	}
	return nil
}

// Discard removes whatever the batch put in the directory: temporary files
// not yet committed, and committed files (SIGTERM between Commit and Exec,
// an exec that failed). Each file is emptied first, through the descriptor
// it was written with, so that its value is gone even where it can no
// longer be removed (after dropping privileges, in a directory only root
// may change). It reports every file it could not empty or remove.
func (b *Batch) Discard() error {
	var errs []error
	for _, f := range b.files {
		name := filepath.Join(b.dir.path, f.temp)
		if f.committed {
			name = filepath.Join(b.dir.path, f.key)
		}
		if err := unix.Ftruncate(f.fd, 0); err != nil {
			errs = append(errs, &FilesError{Path: name, Reason: "cannot empty", Err: err})
		}
		unix.Close(f.fd)
		err := unix.Unlinkat(b.dir.fd, filepath.Base(name), 0)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, &FilesError{Path: name, Reason: "cannot remove", Err: err})
		}
	}
	b.files = nil
	return errors.Join(errs...)
}

// validName keeps a key from naming anything but a file in the directory
// ("..", "a/b"): [A-Za-z_][A-Za-z0-9_]*, at most NAME_MAX bytes.
func validName(key string) bool {
	if key == "" || len(key) > 255 || key[0] >= '0' && key[0] <= '9' {
		return false
	}
	for _, c := range []byte(key) {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// tempPattern is tempName's form: the only names clean removes.
var tempPattern = regexp.MustCompile(`^\.envinit-[0-9a-f]{16}$`)

// lock takes the directory's lock, shared, for as long as envinit may
// have temporary files in it: until the exec closes the descriptor (it is
// close-on-exec) or envinit exits. Before that, if no other envinit holds
// it (processes sharing a directory, such as the containers of a pod
// sharing an emptyDir, take it too), it takes it exclusively and removes
// the stale temporary files of a start that was killed: only envinit's own
// names, and only while no live envinit can be writing one. A directory
// in use by others is cleaned by a later start. flock(2) locks go with the
// process, so a killed start leaves no lock behind.
func (d *Dir) lock() {
	if unix.Flock(d.fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
		d.clean()
	}
	// A cleaner holds the lock only while it removes files: wait a little
	// for it, then go on unlocked (a cleaner could then remove a
	// temporary file of this start: Commit fails, nothing is exec'd).
	for range 200 {
		if unix.Flock(d.fd, unix.LOCK_SH|unix.LOCK_NB) == nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// clean removes the stale temporary files: the lock is held exclusively.
// What cannot be removed (a directory, another user's file in a sticky
// directory) is left alone.
func (d *Dir) clean() {
	dup, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(dup), d.path)
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	for _, name := range names {
		if tempPattern.MatchString(name) {
			_ = unix.Unlinkat(d.fd, name, 0)
		}
	}
}
