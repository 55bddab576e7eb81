//go:build linux

package execve

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// asUser runs check with the access checks of u: supplementary groups,
// real gid and real uid, set on one locked OS thread with raw (per-thread)
// system calls, so that faccessat(2) without AT_EACCESS, which checks as the
// real ids, answers what execve(2) will see once the whole process is u:
// search permission on every directory of a path, execute permission,
// POSIX ACLs, a noexec mount, and none of root's capabilities (the kernel
// clears them for the check when the real uid is not 0). The effective ids
// stay root's, so opening and reading files works as it does for the
// kernel, which reads what it executes whatever the file's read bits.
//
// Why this and not a fork or setfsuid: a fork of a Go process cannot run
// Go code; setfsuid checks go through faccessat2(AT_EACCESS), which an
// older kernel or seccomp profile refuses, and golang.org/x/sys then
// emulates it in user space with the process's ids, not the thread's.
//
// check must not start goroutines: they would not run on this thread. If
// the thread's ids cannot be put back, it is never unlocked, so Go ends
// the thread with the goroutine and nothing else ever runs on it. With u
// nil, check runs as envinit is.
func asUser(u *User, check func() error) error {
	if u == nil {
		return check()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread: Go parks it rather than end it, so the
			// check runs on another, which this lock keeps off this one.
			done <- asUser(u, check)
			runtime.UnlockOSThread()
			return
		}
		restored, err := onThreadAs(u, check)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// setThreadIDs is replaced by tests to make putting the ids back fail.
var setThreadIDs = setIDsOnThread

// onThreadAs runs check with u's ids on the calling thread, then puts
// envinit's back; restored says whether it could.
func onThreadAs(u *User, check func() error) (restored bool, err error) {
	groups, gerr := unix.Getgroups()
	ruid, _, _ := unix.Getresuid()
	rgid, _, _ := unix.Getresgid()
	if gerr != nil {
		return true, &UserError{Spec: u.Spec, Reason: "cannot read envinit's groups", Err: gerr}
	}
	defer func() {
		restored = setThreadIDs(ruid, rgid, groups) == nil
		if !restored && err == nil {
			err = &UserError{Spec: u.Spec, Reason: "cannot restore envinit's ids after checking access as the user"}
		}
	}()
	if err := setThreadIDs(u.UID, u.GID, u.Groups); err != nil {
		return false, &UserError{Spec: u.Spec, Reason: "cannot take the user's ids to check what it may run", Err: err}
	}
	return false, check()
}

// setIDsOnThread sets the calling thread's supplementary groups, real gid and
// real uid, and nothing else: raw system calls act on one thread (Go's
// syscall.Setresuid and golang.org/x/sys/unix.Setresuid act on every
// thread of the process).
func setIDsOnThread(uid, gid int, groups []int) error {
	gids := make([]uint32, max(len(groups), 1))
	for i, g := range groups {
		gids[i] = uint32(g)
	}
	if _, _, e := unix.RawSyscall(sysSetgroups, uintptr(len(groups)), uintptr(unsafe.Pointer(&gids[0])), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(sysSetresgid, uintptr(gid), ^uintptr(0), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(sysSetresuid, uintptr(uid), ^uintptr(0), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	return nil
}

// access is faccessat(2) as the thread's real ids (see asUser).
func access(path string, mode uint32) error {
	return unix.Faccessat(unix.AT_FDCWD, path, mode, 0)
}

// unsearchable names the first directory on the way to path that the
// checking user may not search, or "" if there is none, to say why path
// cannot be reached. The path is taken as it is spelled.
func unsearchable(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	dir := "/"
	for _, part := range strings.Split(filepath.Dir(abs), "/") {
		dir = filepath.Join(dir, part)
		if err := access(dir, unix.X_OK); errors.Is(err, unix.EACCES) {
			return dir
		}
	}
	return ""
}
