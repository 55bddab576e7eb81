//go:build linux

package execve

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultPath is searched when the environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath finds file the way execvp would with env as the environment: a
// name holding a "/" is used as it is, any other is searched for in env's
// PATH (the default one if env has none; an empty entry is the current
// directory). A file that is there but cannot be executed, such as a
// directory or one without execute permission for the effective user, is
// skipped, and is the error (ErrNotExecutable) if nothing else is found;
// otherwise the error is ErrNotFound. Unlike execvp, a file without a "#!"
// line is not run with /bin/sh: Exec reports it as ErrNotExecutable.
func LookPath(file string, env []string) (string, error) {
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
			denied = err
		}
	}
	if denied != nil {
		return "", &CommandError{Command: file, Kind: ErrNotExecutable, Reason: "found in PATH but cannot be executed", Err: denied}
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

// executable checks what execve would: a regular file the effective user
// may execute.
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
	return unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
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
