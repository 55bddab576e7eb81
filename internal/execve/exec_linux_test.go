package execve

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestExecReplacesProcess(t *testing.T) {
	out := runChild(t, "exec")
	// before=PID, after=PID, argv0=..., then the NUL-separated environment.
	lines := strings.SplitN(out, "\n", 4)
	if len(lines) != 4 {
		t.Fatalf("got output %q; want three lines and the environment", out)
	}
	before, after := strings.TrimPrefix(lines[0], "before="), strings.TrimPrefix(lines[1], "after=")
	if _, err := strconv.Atoi(before); err != nil || before != after {
		t.Errorf("got %q, %q; want the same pid before and after the exec", lines[0], lines[1])
	}
	if want := "argv0=argv0-passed-through"; lines[2] != want {
		t.Errorf("got %q; want %q", lines[2], want)
	}
	got := strings.Split(strings.TrimSuffix(lines[3], "\x00"), "\x00")
	if want := []string{"A=1", "B=x=y", "EMPTY=", "PATH=/nonexistent"}; !slices.Equal(got, want) {
		t.Errorf("environment: got %q; want %q", got, want)
	}
}

// executables makes a PATH directory holding name as a file with the given
// mode (0 for a directory), and returns the directory.
func executables(t *testing.T, name string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if mode == 0 {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLookPath(t *testing.T) {
	bin := executables(t, "tool", 0o755)
	noExec := executables(t, "tool", 0o644)
	isDir := executables(t, "tool", 0)

	var firstDefault string
	for dir := range strings.SplitSeq(defaultPath, ":") {
		if executable(dir+"/sh") == nil {
			firstDefault = dir + "/sh"
			break
		}
	}
	t.Chdir(bin)

	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"the final environment's PATH, not envinit's", "tool", []string{"PATH=/nonexistent:" + bin}, bin + "/tool"},
		{"the first PATH of duplicates", "tool", []string{"PATH=" + bin, "PATH=/nonexistent"}, bin + "/tool"},
		{"skips what is not executable", "tool", []string{"PATH=" + noExec + ":" + isDir + ":" + bin}, bin + "/tool"},
		{"an empty PATH entry is the current directory", "tool", []string{"PATH=/nonexistent::/also-nonexistent"}, "./tool"},
		{"the default PATH when there is none", "sh", []string{"HOME=/"}, firstDefault},
		{"a name with a slash is not searched", "./tool", []string{"PATH=/nonexistent"}, "./tool"},
		{"an absolute path", bin + "/tool", nil, bin + "/tool"},
	}
	for _, tt := range tests {
		got, err := LookPath(tt.file, tt.env)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestLookPathErrors(t *testing.T) {
	noExec := executables(t, "tool", 0o644)
	isDir := executables(t, "tool", 0)
	pathWithSecret := "PATH=/nonexistent/" + canary + ":"

	tests := []struct {
		name, file string
		env        []string
		want       error
	}{
		{"missing", "tool", []string{pathWithSecret + "/nonexistent"}, ErrNotFound},
		{"in envinit's PATH only", "sh", []string{pathWithSecret + t.TempDir()}, ErrNotFound},
		{"empty", "", nil, ErrNotFound},
		{"a missing path", "/nonexistent/tool", nil, ErrNotFound},
		{"not executable", "tool", []string{pathWithSecret + noExec}, ErrNotExecutable},
		{"a directory", "tool", []string{pathWithSecret + isDir}, ErrNotExecutable},
		{"a non-executable path", noExec + "/tool", nil, ErrNotExecutable},
		{"a directory path", isDir + "/tool", nil, ErrNotExecutable},
		{"a device", "/dev/null", nil, ErrNotExecutable},
	}
	for _, tt := range tests {
		got, err := LookPath(tt.file, tt.env)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %q, %v; want %v", tt.name, got, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(tt.file)) {
			t.Errorf("%s: got %q; want it to name %q", tt.name, err, tt.file)
		}
		noCanary(t, err)
	}
}

// TestExecErrors runs only failing execs: they return instead of
// replacing the test process.
func TestExecErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name, path, reason string
		want               error
	}{
		{"missing", filepath.Join(dir, "missing"), "no such file", ErrNotFound},
		{"a directory", dir, "cannot be executed", ErrNotExecutable},
		{"not executable", write("noexec", "#!/bin/sh\n", 0o644), "permission denied", ErrNotExecutable},
		{"not a program", write("garbage", "neither ELF nor #!\n", 0o755), "exec format error", ErrNotExecutable},
		{"a missing interpreter", write("script", "#!/nonexistent/interpreter\n", 0o755), "interpreter", ErrNotExecutable},
	}
	for _, tt := range tests {
		err := Exec(tt.path, []string{tt.path, canary}, []string{"SECRET=" + canary})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v; want %v", tt.name, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: got %q; want it to name %s and say %q", tt.name, err, tt.path, tt.reason)
		}
		noCanary(t, err)
	}
}
