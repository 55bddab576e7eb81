//go:build linux

package execve

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// defaultPath is searched when the environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Prepare finds COMMAND, argv[0], and checks everything execve(2) could
// refuse, as u, the user COMMAND will run as (nil: envinit's own), so that
// a COMMAND that cannot start fails before the first secret file is
// written, not after the privileges are dropped:
//
//   - the PATH search (LookPath), as u;
//   - what the kernel needs to run the file found: a regular file u may
//     execute (every directory on the way searchable by u, no noexec
//     mount), either an ELF binary whose loader (PT_INTERP) u may execute,
//     or a "#!" script whose interpreter passes the same checks;
//   - the size of argv and env against the kernel's limit (CheckSize).
//
// It returns the path to pass to Exec. A command that cannot be found is
// ErrNotFound; one that cannot run, ErrNotExecutable; a command line and
// environment too large, an *ArgsError (resolve.ErrData).
func Prepare(argv, env []string, u *User) (string, error) {
	if len(argv) == 0 {
		return "", &CommandError{Command: "", Kind: ErrNotFound, Reason: "empty command"}
	}
	var path string
	var extra []string
	err := asUser(u, func() (err error) {
		path, err = lookPath(argv[0], env)
		if err != nil {
			return err
		}
		extra, err = runnable(path)
		return err
	})
	if err != nil {
		return "", err
	}
	var stack unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &stack); err != nil {
		return "", fmt.Errorf("reading the stack size limit: %w", err)
	}
	if err := checkSize(path, argv, env, extra, stack.Cur); err != nil {
		return "", err
	}
	return path, nil
}

// LookPath finds file the way execvp would with env as the environment,
// as envinit's own user (Prepare searches as the user COMMAND runs as): a
// name holding a "/" is used as it is, any other is searched for in env's
// PATH (the default one if env has none; an empty entry is the current
// directory). A file that is there but cannot be executed, such as a
// directory, a file without execute permission, or one in a directory
// that cannot be searched, is skipped, and is the error (ErrNotExecutable)
// if nothing else is found; otherwise the error is ErrNotFound. Unlike
// execvp, a file without a "#!" line is not run with /bin/sh (Prepare
// reports it as ErrNotExecutable).
func LookPath(file string, env []string) (string, error) {
	return lookPath(file, env)
}

func lookPath(file string, env []string) (string, error) {
	if file == "" {
		return "", &CommandError{Command: file, Kind: ErrNotFound, Reason: "empty command"}
	}
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", commandError(file, err)
		}
		return file, nil
	}
	path, ok := getenv(env, "PATH")
	if !ok {
		path = defaultPath
	}
	var denied error
	var deniedAt string
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		candidate := dir + "/" + file
		err := executable(candidate)
		if err == nil {
			return candidate, nil
		}
		if denied == nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			denied, deniedAt = err, candidate
		}
	}
	if denied != nil {
		reason := "found in PATH but cannot be executed"
		if dir := unsearchable(deniedAt); dir != "" {
			reason += " (directory " + dir + " cannot be searched)"
		}
		return "", &CommandError{Command: file, Kind: ErrNotExecutable, Reason: reason, Err: denied}
	}
	return "", &CommandError{Command: file, Kind: ErrNotFound, Reason: "not found in PATH"}
}

// getenv returns name's first value in env, as getenv(3) would.
func getenv(env []string, name string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// executable checks what execve would of the file itself: a regular file
// the checking user may execute (see asUser).
func executable(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return unix.EISDIR
	default:
		return unix.EACCES
	}
	return access(path, unix.X_OK)
}

// maxInterpreters is how many "#!" scripts the kernel follows before the
// binary at the end (BINPRM's depth limit, 5 rewrites, less the ELF one).
const maxInterpreters = 4

// runnable checks that the kernel can start the executable file at path:
// an ELF binary whose loader the checking user may execute, or a "#!"
// script whose interpreter is runnable in turn. It returns the strings a
// script's interpreter adds to the arguments (interpreter, its optional
// argument, the script's path), which count against the size limit.
func runnable(path string) ([]string, error) {
	var extra []string
	file := path
	for range maxInterpreters + 1 {
		head, err := readHead(file)
		if err != nil {
			return nil, &CommandError{Command: path, Kind: ErrNotExecutable, Reason: "cannot read " + file, Err: err}
		}
		switch {
		case bytes.HasPrefix(head, []byte("\x7fELF")):
			loader, ok := elfInterp(file)
			if !ok {
				return extra, nil // static, or a format the kernel judges
			}
			if err := executable(loader); err != nil {
				return nil, missing(path, "its ELF loader "+loader, " (a glibc binary on a musl or scratch image?)", loader, err)
			}
			return extra, nil
		case bytes.HasPrefix(head, []byte("#!")):
			interp, arg, ok := shebang(head)
			if !ok {
				return nil, &CommandError{Command: path, Kind: ErrNotExecutable, Reason: file + ": its #! line names no interpreter, or one too long for the kernel"}
			}
			if err := executable(interp); err != nil {
				return nil, missing(path, "its #! interpreter "+interp, "", interp, err)
			}
			extra = append(extra, interp, file)
			if arg != "" {
				extra = append(extra, arg)
			}
			file = interp
		default:
			return nil, &CommandError{Command: path, Kind: ErrNotExecutable, Reason: file + " is neither an ELF binary nor a #! script; give it a #! line"}
		}
	}
	return nil, &CommandError{Command: path, Kind: ErrNotExecutable, Reason: fmt.Sprintf("more than %d nested #! interpreters", maxInterpreters)}
}

// missing is the error for what the kernel needs to run path: file,
// described as what, is missing (hint says why it may be) or cannot be
// executed.
func missing(path, what, hint, file string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return &CommandError{Command: path, Kind: ErrNotExecutable, Reason: what + " is missing" + hint, Err: err}
	}
	if dir := unsearchable(file); dir != "" {
		what += " is in directory " + dir + ", which cannot be searched, and"
	}
	return &CommandError{Command: path, Kind: ErrNotExecutable, Reason: what + " cannot be executed", Err: err}
}

// binprmBuf is how much of a file the kernel reads to recognise it
// (BINPRM_BUF_SIZE): a "#!" line must fit in it.
const binprmBuf = 256

func readHead(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, binprmBuf)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// shebang parses a "#!" line as the kernel's binfmt_script does: the
// interpreter is the first word after "#!", the optional argument the rest
// of the line, trimmed. A line that does not end within the buffer is fine
// as long as the interpreter's name does.
func shebang(head []byte) (interp, arg string, ok bool) {
	line := head[2:]
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		end = len(line)
	}
	line = bytes.TrimLeft(line[:end], " \t")
	name, rest, found := bytes.Cut(bytes.ReplaceAll(line, []byte("\t"), []byte(" ")), []byte(" "))
	if len(name) == 0 || !found && bytes.IndexByte(head[2:], '\n') < 0 {
		return "", "", false
	}
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return string(name), string(bytes.Trim(rest, " \t")), true
}

// elfInterp returns the loader an ELF file names in its PT_INTERP program
// header, false if it names none or cannot be read: the program headers are
// all the kernel reads, so they are all this reads (debug/elf would refuse
// files the kernel runs, for their section headers).
func elfInterp(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	var ident [16]byte
	if _, err := io.ReadFull(f, ident[:]); err != nil {
		return "", false
	}
	var order binary.ByteOrder
	switch ident[5] {
	case 1:
		order = binary.LittleEndian
	case 2:
		order = binary.BigEndian
	default:
		return "", false
	}
	var phoff uint64
	var phentsize, phnum uint16
	switch ident[4] {
	case 1: // ELFCLASS32
		var h elf.Header32
		if binary.Read(io.NewSectionReader(f, 0, 1<<20), order, &h) != nil {
			return "", false
		}
		phoff, phentsize, phnum = uint64(h.Phoff), h.Phentsize, h.Phnum
	case 2: // ELFCLASS64
		var h elf.Header64
		if binary.Read(io.NewSectionReader(f, 0, 1<<20), order, &h) != nil {
			return "", false
		}
		phoff, phentsize, phnum = h.Phoff, h.Phentsize, h.Phnum
	default:
		return "", false
	}
	for i := range uint64(min(phnum, 1024)) {
		r := io.NewSectionReader(f, int64(phoff+i*uint64(phentsize)), int64(phentsize))
		var typ uint32
		var off, size uint64
		if ident[4] == 1 {
			var p elf.Prog32
			if binary.Read(r, order, &p) != nil {
				return "", false
			}
			typ, off, size = p.Type, uint64(p.Off), uint64(p.Filesz)
		} else {
			var p elf.Prog64
			if binary.Read(r, order, &p) != nil {
				return "", false
			}
			typ, off, size = p.Type, p.Off, p.Filesz
		}
		if elf.ProgType(typ) != elf.PT_INTERP {
			continue
		}
		if size < 2 || size > 4096 {
			return "", false
		}
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, int64(off)); err != nil {
			return "", false
		}
		name, _, _ := bytes.Cut(buf, []byte{0})
		return string(name), len(name) > 0
	}
	return "", false
}

// The kernel's limits on execve's arguments (fs/exec.c, include/uapi/linux).
const (
	argMaxFloor = 128 << 10 // ARG_MAX: the limit is never below this
	argMaxCap   = 6 << 20   // _STK_LIM / 4 * 3: nor above this
)

// argLimit is the most bytes execve takes for its strings and pointers
// with the given stack size limit: a quarter of it, at least ARG_MAX and
// at most three quarters of the default 8 MiB stack
// (TestCheckSizeMatchesTheKernel checks the boundary against the kernel).
func argLimit(stack uint64) uint64 {
	return max(min(stack/4, argMaxCap), argMaxFloor)
}

// argSize is what execve counts against argLimit: every string of argv
// and env with its NUL, path (copied first), the strings a #! interpreter
// adds (extra; argv[0] is then dropped), and a pointer per argument and
// variable.
func argSize(path string, argv, env, extra []string) uint64 {
	n := uint64(len(path) + 1)
	for _, s := range slices.Concat(argv, env, extra) {
		n += uint64(len(s) + 1)
	}
	if len(extra) > 0 {
		n -= uint64(len(argv[0]) + 1)
	}
	return n + uint64(max(len(argv), 1)+len(env))*uint64(unsafe.Sizeof(uintptr(0)))
}

// checkSize refuses what execve would refuse with E2BIG: one string over
// MAX_ARG_STRLEN, or the total over the limit the stack size gives. Errors
// name the argument's index or the variable, never a value.
func checkSize(path string, argv, env, extra []string, stack uint64) error {
	for i, a := range argv {
		if len(a)+1 > maxEnvString {
			return &ArgsError{What: fmt.Sprintf("argument %d", i), Size: uint64(len(a) + 1), Limit: maxEnvString}
		}
	}
	for _, kv := range env {
		if len(kv)+1 > maxEnvString {
			name, _, _ := strings.Cut(kv, "=")
			return &ArgsError{What: "variable " + name, Size: uint64(len(kv) + 1), Limit: maxEnvString}
		}
	}
	if size, limit := argSize(path, argv, env, extra), argLimit(stack); size > limit {
		return &ArgsError{What: "the command line and environment", Size: size, Limit: limit, Stack: stack}
	}
	return nil
}

// Exec replaces envinit with path, passing argv (argv[0] included) and env
// as they are. It returns only on failure: ErrNotFound if path is gone,
// ErrNotExecutable for anything else the kernel refuses.
func Exec(path string, argv, env []string) error {
	return commandError(path, unix.Exec(path, argv, env))
}

func commandError(path string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil {
			return &CommandError{Command: path, Kind: ErrNotFound, Reason: "no such file", Err: err}
		}
		// The file is there: what is missing is what the kernel needs to
		// run it, the classic "no such file" for a binary that is there.
		return &CommandError{Command: path, Kind: ErrNotExecutable, Reason: "its #! interpreter or its ELF loader (a glibc binary on a musl image?) is missing", Err: err}
	}
	return &CommandError{Command: path, Kind: ErrNotExecutable, Reason: "cannot be executed", Err: err}
}
