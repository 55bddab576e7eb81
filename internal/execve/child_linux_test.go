package execve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv selects a child mode: the test binary runs itself again to do
// what cannot be undone in the test process (drop privileges, exec).
const childEnv = "EXECVE_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "drop":
		childDrop()
	case "exec":
		childExec()
	case "discard-after-drop":
		childDiscardAfterDrop()
	case "argmax":
		childArgMax()
	default:
		if mode, ok := strings.CutPrefix(os.Getenv(childEnv), "exec-ok"); ok {
			fmt.Println("exec ok" + mode)
			os.Exit(0)
		}
	case "drop-fails":
		// A setuid that does nothing, as a broken kernel or seccomp filter might.
		setuid = func(int) error { return nil }
		fmt.Printf("drop=%s\n", sentinel(DropPrivileges(User{UID: 1000, GID: 1000, Groups: []int{1000}})))
		os.Exit(0)
		fmt.Println("unknown child mode")
	}
	os.Exit(1)
}

// childDrop drops to USER_SPEC and reports what it became, one line each.
func childDrop() {
	passwdFile, groupFile = os.Getenv("PASSWD"), os.Getenv("GROUP")
	// Threads locked in other goroutines must be switched too.
	for range 4 {
		go func() {
			runtime.LockOSThread()
			time.Sleep(time.Hour)
		}()
	}
	time.Sleep(50 * time.Millisecond)

	u, err := ParseUser(os.Getenv("USER_SPEC"))
	if err != nil {
		fmt.Println("ParseUser:", err)
		return
	}
	if err := DropPrivileges(u); err != nil {
		fmt.Println("DropPrivileges:", err)
		return
	}
	fmt.Printf("ids=%d %d %d %d\n", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	groups, _ := os.Getgroups()
	slices.Sort(groups)
	fmt.Printf("groups=%v\n", groups)
	fmt.Printf("threads=%s\n", threadIDs())
	fmt.Printf("setuid(0)=%v\n", syscall.Setuid(0))
	fmt.Printf("again=%s\n", sentinel(DropPrivileges(u)))
	_, err = ParseUser("1000")
	fmt.Printf("parse=%s\n", sentinel(err))
	_, err = OpenSecretsDir(os.Getenv("WORLD_WRITABLE"), nil)
	fmt.Printf("world-writable=%s\n", sentinel(err))
	_, err = OpenSecretsDir(os.Getenv("STICKY"), nil)
	fmt.Printf("sticky=%s\n", sentinel(err))
	os.Exit(0)
}

// threadIDs reports "all UID/GID/GROUPS" when every thread has app's real,
// effective, saved and filesystem ids and groups, and what they have
// otherwise.
func threadIDs() string {
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	ids := map[string]bool{}
	for _, task := range tasks {
		status, err := os.ReadFile(task)
		if err != nil {
			return err.Error()
		}
		var id []string
		for line := range strings.Lines(string(status)) {
			for _, field := range []string{"Uid:", "Gid:", "Groups:"} {
				if v, ok := strings.CutPrefix(line, field); ok {
					id = append(id, strings.Join(strings.Fields(v), ","))
				}
			}
		}
		ids[strings.Join(id, "/")] = true
	}
	if len(tasks) < 5 {
		return fmt.Sprintf("only %d threads", len(tasks))
	}
	if len(ids) == 1 && ids["1000,1000,1000,1000/1000,1000,1000,1000/1000,2000,2001"] {
		return "all 1000/1000/1000,2000,2001"
	}
	return fmt.Sprint(ids)
}

// sentinel names the sentinel err matches, "ok" for nil.
func sentinel(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range []struct {
		err  error
		name string
	}{{ErrUser, "ErrUser"}, {ErrFiles, "ErrFiles"}, {ErrNotFound, "ErrNotFound"}, {ErrNotExecutable, "ErrNotExecutable"}} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return err.Error()
}

// childExec prints its pid and execs a shell that prints its own pid, its
// argv[0] and its environment as the kernel handed it over.
func childExec() {
	fmt.Printf("before=%d\n", os.Getpid())
	err := Exec("/bin/sh",
		[]string{"argv0-passed-through", "-c", `echo "after=$$"; echo "argv0=$0"; /bin/cat /proc/$$/environ`},
		[]string{"A=1", "B=x=y", "EMPTY=", "PATH=/nonexistent"})
	fmt.Println("Exec:", err)
}
