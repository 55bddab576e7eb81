package execve

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/envinit/envinit/internal/resolve"
)

// nobody is the user the as-user checks run as: not root, in no group of
// the files the tests make.
var nobody = &User{Spec: "65534:65534", UID: 65534, GID: 65534, Groups: []int{65534}}

// openTree makes a directory every user may search, on a short path (an
// ELF loader's name is patched in place and cannot grow), removed when
// the test ends.
func openTree(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "x")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// put writes a file at dir/name (making dir with dirMode if needed).
func put(t *testing.T, dir string, dirMode os.FileMode, name string, content []byte, mode os.FileMode) string {
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

// dynamicELF returns the bytes of a dynamically linked binary of this
// machine and the offset and size of its PT_INTERP string.
func dynamicELF(t *testing.T) (image []byte, loader string, off, size int) {
	t.Helper()
	for _, path := range []string{"/bin/true", "/usr/bin/true", "/bin/sh", "/usr/bin/env"} {
		loader, ok := elfInterp(path)
		if !ok {
			continue
		}
		image, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		i := bytes.Index(image, append([]byte(loader), 0))
		if i < 0 {
			continue
		}
		return image, loader, i, len(loader)
	}
	t.Skip("no dynamically linked binary with a PT_INTERP on this machine")
	return nil, "", 0, 0
}

// withLoader returns image with its loader renamed to loader, which must
// not be longer than the original.
func withLoader(t *testing.T, image []byte, off, size int, loader string) []byte {
	t.Helper()
	if len(loader) > size {
		t.Fatalf("loader path %q is longer than the %d bytes there is room for", loader, size)
	}
	out := bytes.Clone(image)
	copy(out[off:off+size], append([]byte(loader), make([]byte, size-len(loader))...))
	return out
}

func TestPrepareChecksAsTheUser(t *testing.T) {
	needRoot(t)
	root := openTree(t)
	script := []byte("#!/bin/sh\nexit 0\n")
	rootOnly := put(t, filepath.Join(root, "rootonly"), 0o755, "tool", script, 0o700)
	open := put(t, filepath.Join(root, "open"), 0o755, "tool", script, 0o755)
	hidden := put(t, filepath.Join(root, "hidden"), 0o700, "tool", script, 0o755)
	hiddenSh := put(t, filepath.Join(root, "hidden"), 0o700, "sh", mustRead(t, "/bin/sh"), 0o755)
	missingInterp := put(t, root, 0o755, "missing-interp", []byte("#!/nonexistent/sh -e\n"), 0o755)
	hiddenInterp := put(t, root, 0o755, "hidden-interp", []byte("#! "+hiddenSh+"\n"), 0o755)
	nested := put(t, root, 0o755, "nested", []byte("#!"+missingInterp+"\n"), 0o755)
	garbage := put(t, root, 0o755, "garbage", []byte("neither ELF nor a script\n"), 0o755)
	image, loader, off, size := dynamicELF(t)
	noLoader := put(t, root, 0o755, "no-loader", withLoader(t, image, off, size, "/nonexistent/ld.so"), 0o755)
	hiddenLoader := filepath.Join(root, "h", "ld")
	put(t, filepath.Join(root, "h"), 0o700, "ld", mustRead(t, loader), 0o755)
	loaderHidden := put(t, root, 0o755, "loader-hidden", withLoader(t, image, off, size, hiddenLoader), 0o755)
	dynamic := put(t, root, 0o755, "dynamic", image, 0o755)

	tests := []struct {
		name string
		argv []string
		path string // PATH
		user *User
		want string // the path found, or the error's sentinel name
		says string // in the error
	}{
		{"a root-only copy earlier in PATH is skipped for the user", []string{"tool"}, filepath.Dir(rootOnly) + ":" + filepath.Dir(open), nobody, open, ""},
		{"root takes the first copy", []string{"tool"}, filepath.Dir(rootOnly) + ":" + filepath.Dir(open), nil, rootOnly, ""},
		{"only a root-only copy", []string{"tool"}, filepath.Dir(rootOnly), nobody, "ErrNotExecutable", "found in PATH but cannot be executed"},
		{"in a directory the user cannot search, by PATH", []string{"tool"}, filepath.Dir(hidden), nobody, "ErrNotExecutable", "directory " + filepath.Dir(hidden) + " cannot be searched"},
		{"in a directory the user cannot search, by path", []string{hidden}, "", nobody, "ErrNotExecutable", "permission denied"},
		{"in a directory root can search", []string{hidden}, "", nil, hidden, ""},
		{"a missing #! interpreter", []string{missingInterp}, "", nil, "ErrNotExecutable", "#! interpreter /nonexistent/sh is missing"},
		{"a #! interpreter the user cannot reach", []string{hiddenInterp}, "", nobody, "ErrNotExecutable", "directory " + filepath.Dir(hiddenSh) + ", which cannot be searched"},
		{"a #! interpreter root can reach", []string{hiddenInterp}, "", nil, hiddenInterp, ""},
		{"a #! interpreter whose own interpreter is missing", []string{nested}, "", nil, "ErrNotExecutable", "/nonexistent/sh is missing"},
		{"neither ELF nor #!", []string{garbage}, "", nil, "ErrNotExecutable", "neither an ELF binary nor a #! script"},
		{"a missing ELF loader", []string{noLoader}, "", nil, "ErrNotExecutable", "ELF loader /nonexistent/ld.so"},
		{"an ELF loader the user cannot reach", []string{loaderHidden}, "", nobody, "ErrNotExecutable", "ELF loader " + hiddenLoader},
		{"an ELF loader root can reach", []string{loaderHidden}, "", nil, loaderHidden, ""},
		{"a dynamic binary as the user", []string{dynamic}, "", nobody, dynamic, ""},
	}
	for _, tt := range tests {
		env := []string{"SECRET=" + canary}
		if tt.path != "" {
			env = append(env, "PATH="+tt.path)
		}
		got, err := Prepare(append(tt.argv, canary), env, tt.user)
		switch {
		case err == nil && got != tt.want:
			t.Errorf("%s: got %q; want %s", tt.name, got, tt.want)
		case err != nil && sentinel(err) != tt.want:
			t.Errorf("%s: got %v; want %s", tt.name, err, tt.want)
		case err != nil && !strings.Contains(err.Error(), tt.says):
			t.Errorf("%s: got %q; want it to say %q", tt.name, err, tt.says)
		}
		if err != nil {
			noCanary(t, err)
		}
	}
	if n := tasksWithID(t, 65534); n != 0 {
		t.Errorf("after the checks, %d threads have uid or gid 65534; want every thread back to envinit's ids", n)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A thread whose ids cannot be put back is never used again: Go ends it.
func TestPrepareEndsAThreadItCannotRestore(t *testing.T) {
	needRoot(t)
	calls := 0
	setThreadIDs = func(uid, gid int, groups []int) error {
		calls++
		if calls == 2 {
			return errors.New("refused")
		}
		return setIDsOnThread(uid, gid, groups)
	}
	defer func() { setThreadIDs = setIDsOnThread }()
	_, err := Prepare([]string{"/bin/sh"}, nil, nobody)
	if !errors.Is(err, ErrUser) {
		t.Fatalf("got %v; want ErrUser", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := tasksWithID(t, 65534)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads still have uid 65534 10s later; want the thread ended", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tasksWithID counts the threads that have id among their uids, gids or
// groups.
func tasksWithID(t *testing.T, id int) int {
	t.Helper()
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	n := 0
	for _, task := range tasks {
		status, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for line := range strings.Lines(string(status)) {
			f := strings.Fields(line)
			if len(f) > 1 && (f[0] == "Uid:" || f[0] == "Gid:" || f[0] == "Groups:") && slices.Contains(f[1:], fmt.Sprint(id)) {
				n++
				break
			}
		}
	}
	return n
}

func TestArgLimit(t *testing.T) {
	tests := []struct{ stack, want uint64 }{
		{8 << 20, 2 << 20},              // the usual 8 MiB stack: a quarter
		{256 << 10, 128 << 10},          // never below ARG_MAX
		{64 << 20, 6 << 20},             // never above 6 MiB
		{unix.RLIM_INFINITY, 6 << 20},   // unlimited
		{1 << 20, 256 << 10},            // ulimit -s 1024
		{(128 << 10) * 4, 128 << 10},    // exactly at the floor
		{(6 << 20) * 4, 6 << 20},        // exactly at the cap
		{(6<<20)*4 + 4096, 6 << 20},     // past it
		{(128<<10)*4 - 4096, 128 << 10}, // under it
	}
	for _, tt := range tests {
		if got := argLimit(tt.stack); got != tt.want {
			t.Errorf("argLimit(%d): got %d; want %d", tt.stack, got, tt.want)
		}
	}
}

func TestPrepareRefusesAnOversizedEnvironment(t *testing.T) {
	var env []string
	for i := range 50 { // 6.5 MB: over the limit whatever the stack size
		env = append(env, fmt.Sprintf("V%02d=%s", i, strings.Repeat(canary, 130000/len(canary))))
	}
	_, err := Prepare([]string{"/bin/sh"}, env, nil)
	var args *ArgsError
	if !errors.As(err, &args) || !errors.Is(err, resolve.ErrData) {
		t.Fatalf("got %v; want an *ArgsError matching resolve.ErrData", err)
	}
	for _, want := range []string{fmt.Sprint(args.Size), fmt.Sprint(args.Limit)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q; want it to say %q", err, want)
		}
	}
	if hints := strings.Join(args.Hints(), "\n"); !strings.Contains(hints, "ulimit -s") || !strings.Contains(hints, "sensitive") {
		t.Errorf("hints: got %q; want them to say how to make it fit", hints)
	}
	noCanary(t, err)

	one := []string{"BIG=" + strings.Repeat("x", maxEnvString)}
	if _, err := Prepare([]string{"/bin/sh"}, one, nil); !errors.As(err, &args) || !strings.Contains(err.Error(), "variable BIG") {
		t.Errorf("one string over MAX_ARG_STRLEN: got %v; want an *ArgsError naming BIG", err)
	}
}

// The size check is the kernel's: a command line and environment that take
// exactly the limit exec, and checkSize lets them; one byte more, the
// kernel refuses them with E2BIG, and so does checkSize. Three stack
// sizes: the usual 8 MiB, 1 MiB, and one under the 128 KiB floor.
func TestCheckSizeMatchesTheKernel(t *testing.T) {
	for _, stack := range []string{"8388608", "1048576", "262144"} {
		for _, extra := range []string{"0", "1"} {
			out := runChild(t, "argmax", "STACK="+stack, "EXTRA="+extra)
			want := "exec ok checkSize=ok"
			if extra == "1" {
				want = "E2BIG checkSize=ArgsError"
			}
			if !strings.Contains(out, want) {
				t.Errorf("stack %s, %s bytes from the limit: got %q; want %q", stack, extra, out, want)
			}
		}
	}
}

// childArgMax sets its stack limit to STACK, then execs itself with an
// environment EXTRA bytes over what checkSize computes as the limit.
func childArgMax() {
	var stack uint64
	fmt.Sscan(os.Getenv("STACK"), &stack)
	extra := 0
	fmt.Sscan(os.Getenv("EXTRA"), &extra)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &lim); err != nil {
		fmt.Println("getrlimit:", err)
		return
	}
	lim.Cur = stack
	if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Println(err)
		return
	}
	argv := []string{self, "-test.run=^$"}
	env := []string{fmt.Sprintf("%s=exec-ok checkSize=%-9s", childEnv, "")}
	target := uint64(int64(argLimit(stack)) + int64(extra))
	// Enough padding variables, each at most MAX_ARG_STRLEN, then their
	// values spread to make the total exactly target.
	base := argSize(self, argv, env, nil)
	var pads []string
	room := uint64(0)
	for base+room < target {
		name := fmt.Sprintf("P%d=", len(pads))
		pads = append(pads, name)
		base += uint64(len(name)) + 1 + 8
		room += maxEnvString - 1 - uint64(len(name))
	}
	left := target - base
	for i, name := range pads {
		n := min(left, maxEnvString-1-uint64(len(name)))
		pads[i] += strings.Repeat("x", int(n))
		left -= n
	}
	env = append(env, pads...)
	if got := argSize(self, argv, env, nil); got != target {
		fmt.Println("padding missed:", got, target)
		return
	}
	check := "ok"
	if err := checkSize(self, argv, env, nil, stack); err != nil {
		check = fmt.Sprintf("%T", err)[len("*execve."):]
	}
	// The exec'd test binary prints "exec ok" and checkSize's verdict
	// from its environment.
	env[0] = fmt.Sprintf("%s=exec-ok checkSize=%-9s", childEnv, check) // the same size
	err = Exec(self, argv, env)
	if errors.Is(err, unix.E2BIG) {
		fmt.Println("E2BIG checkSize=" + check)
		os.Exit(0)
	}
	fmt.Println("Exec:", err, "checkSize="+check)
	os.Exit(0)
}
