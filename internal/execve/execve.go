// Package execve is envinit's last step and the only package that makes
// system calls. It builds COMMAND's environment (BuildEnv, pure), writes
// sensitive values to files in a memory-backed directory (OpenSecretsDir,
// Dir.Stage, Batch.Commit), switches to ENVINIT_USER (ParseUser,
// DropPrivileges) and replaces envinit with COMMAND (Prepare, Exec).
//
// The order main is expected to follow, failing closed at each step (uid
// and gid are ENVINIT_USER's, or -1 when it is unset; u is nil then):
//
//	u, err := ParseUser(spec)                 // before anything is written
//	dir, err := OpenSecretsDir(explicit, u)   // only if a value is sensitive
//	env, files, err := BuildEnv(Env{Container: os.Environ(), ..., Dir: dir.Path(), Home: u.Home})
//	path, err := Prepare(argv, env, u)        // everything execve checks, as u
//	batch, err := dir.Stage(files, uid, gid)
//	err = batch.Commit()                      // batch.Discard() on SIGTERM from here on
//	err = DropPrivileges(u)
//	err = Exec(path, argv, env)               // batch.Discard() if it returns
//
// Nothing here prints a secret value: errors name keys, paths and users.
// Outside Linux every function that needs the kernel returns ErrUnsupported.
package execve

import (
	"errors"
	"fmt"

	"github.com/envinit/envinit/internal/resolve"
)

// Sentinels for main's exit codes (the README's Exit codes), matched with errors.Is.
var (
	// ErrFiles: the secret files cannot be written safely (exit 73).
	ErrFiles = errors.New("cannot write the secret files")
	// ErrUser: ENVINIT_USER is invalid or cannot be switched to (exit 78).
	ErrUser = errors.New("bad ENVINIT_USER")
	// ErrNotFound: COMMAND is not found (exit 127).
	ErrNotFound = errors.New("command not found")
	// ErrNotExecutable: COMMAND is found but cannot be executed (exit 126).
	ErrNotExecutable = errors.New("command not executable")
	// ErrUnsupported: envinit runs COMMAND only on Linux.
	ErrUnsupported = fmt.Errorf("envinit runs COMMAND only on Linux: %w", errors.ErrUnsupported)
)

// File is a sensitive value to write to {dir}/{Key}.
type File struct {
	Key   string
	Value resolve.Value
}

// User is whom COMMAND runs as.
type User struct {
	Spec   string // the ENVINIT_USER it was parsed from
	Name   string // the /etc/passwd name; "" for a uid with no entry
	UID    int
	GID    int
	Groups []int // supplementary groups, for setgroups
	Home   string
}

// FilesError is a failure to prepare the secrets directory or its files.
type FilesError struct {
	Path   string // the directory or file involved
	Reason string // what is wrong and what to do about it
	Err    error  // the system error, if any
}

func (e *FilesError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("secret files: %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("secret files: %s: %s: %v", e.Path, e.Reason, e.Err)
}

func (e *FilesError) Is(target error) bool { return target == ErrFiles }
func (e *FilesError) Unwrap() error        { return e.Err }

// UserError is an ENVINIT_USER that cannot be resolved or switched to.
type UserError struct {
	Spec   string // the ENVINIT_USER value: a user name, not a secret
	Reason string
	Err    error
}

func (e *UserError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("ENVINIT_USER=%q: %s", e.Spec, e.Reason)
	}
	return fmt.Sprintf("ENVINIT_USER=%q: %s: %v", e.Spec, e.Reason, e.Err)
}

func (e *UserError) Is(target error) bool { return target == ErrUser }
func (e *UserError) Unwrap() error        { return e.Err }

// CommandError is a COMMAND that cannot be run. Only the command is named:
// its arguments and PATH may come from the store.
type CommandError struct {
	Command string
	Kind    error // ErrNotFound or ErrNotExecutable
	Reason  string
	Err     error // the system error, if any
}

func (e *CommandError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("command %q: %s", e.Command, e.Reason)
	}
	return fmt.Sprintf("command %q: %s: %v", e.Command, e.Reason, e.Err)
}

func (e *CommandError) Is(target error) bool { return target == e.Kind }
func (e *CommandError) Unwrap() error        { return e.Err }

// ArgsError is a command line and environment that execve would refuse as
// too long (E2BIG): one string, or all of them together. It names what is
// too long, never a value, and matches resolve.ErrData: the values that
// make it too long come from the store (exit 65).
type ArgsError struct {
	What  string // "argument 2", "variable NAME", "the command line and environment"
	Size  uint64 // bytes, as the kernel counts them
	Limit uint64
	Stack uint64 // the stack size limit the total's limit comes from; 0 for one string
}

func (e *ArgsError) Error() string {
	if e.Stack == 0 {
		return fmt.Sprintf("%s takes %d bytes, over the %d the kernel takes for one string", e.What, e.Size, e.Limit)
	}
	stack := "unlimited"
	if e.Stack < 1<<62 {
		stack = fmt.Sprintf("%d KiB", e.Stack>>10)
	}
	return fmt.Sprintf("%s take %d bytes, and execve takes at most %d (a quarter of the stack size limit, %s, kept between 128 KiB and 6 MiB)", e.What, e.Size, e.Limit, stack)
}

// Hints says how to make it fit.
func (e *ArgsError) Hints() []string {
	if e.Stack == 0 {
		return []string{"mark the key sensitive, so that it goes to a file"}
	}
	return []string{"mark large keys sensitive, so that they go to files", "or raise the stack size limit (ulimit -s)"}
}

func (e *ArgsError) Is(target error) bool { return target == resolve.ErrData }
