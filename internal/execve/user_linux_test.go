package execve

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/bash
# a comment
app:x:1000:1000:App:/home/app:/bin/sh
a line that is not an entry
dup:x:1001:1001::/home/dup:/bin/sh
dup:x:1002:1002::/home/dup2:/bin/sh
bad:x:notanumber:1::/:/bin/sh
`

const testGroup = `root:x:0:
app:x:1000:
dev:x:2000:app,other
ops:x:2001:other,app
again:x:1000:app
staff:x:50:
bad:x:-1:app
`

// accountFiles points ParseUser at test account files and returns them.
func accountFiles(t *testing.T) (passwd, group string) {
	t.Helper()
	dir := t.TempDir()
	passwd, group = filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	if err := os.WriteFile(passwd, []byte(testPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(group, []byte(testGroup), 0o644); err != nil {
		t.Fatal(err)
	}
	oldPasswd, oldGroup := passwdFile, groupFile
	passwdFile, groupFile = passwd, group
	t.Cleanup(func() { passwdFile, groupFile = oldPasswd, oldGroup })
	return passwd, group
}

func TestParseUser(t *testing.T) {
	needRoot(t)
	accountFiles(t)
	gid := os.Getgid()
	app := User{Name: "app", UID: 1000, GID: 1000, Groups: []int{1000, 2000, 2001}, Home: "/home/app"}
	with := func(u User, spec string, gid int, groups ...int) User {
		u.Spec = spec
		if gid >= 0 {
			u.GID = gid
		}
		if groups != nil {
			u.Groups = groups
		}
		return u
	}
	tests := []struct {
		spec string
		want User
	}{
		{"app", with(app, "app", -1)},
		{"1000", with(app, "1000", -1)},
		{"app:staff", with(app, "app:staff", 50, 50)},
		{"app:4242", with(app, "app:4242", 4242, 4242)},
		{"1000:staff", with(app, "1000:staff", 50, 50)},
		{"dup", User{Spec: "dup", Name: "dup", UID: 1001, GID: 1001, Groups: []int{1001}, Home: "/home/dup"}},
		{"5000", User{Spec: "5000", UID: 5000, GID: gid, Groups: []int{gid}, Home: "/"}},
		{"5000:5001", User{Spec: "5000:5001", UID: 5000, GID: 5001, Groups: []int{5001}, Home: "/"}},
		{"5000:dev", User{Spec: "5000:dev", UID: 5000, GID: 2000, Groups: []int{2000}, Home: "/"}},
	}
	for _, tt := range tests {
		got, err := ParseUser(tt.spec)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v; want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestParseUserErrors(t *testing.T) {
	needRoot(t)
	passwd, group := accountFiles(t)
	tests := []struct{ spec, want string }{
		{"", "want user"},
		{":1000", "want user"},
		{"app:", "want user"},
		{"nosuch", `no user "nosuch" in ` + passwd},
		{"bad", `no user "bad"`},
		{"-1", `no user "-1"`},
		{"4294967295", `no user "4294967295"`},
		{"app:nosuch", `no group "nosuch" in ` + group},
		{"app:bad", `no group "bad"`},
	}
	for _, tt := range tests {
		u, err := ParseUser(tt.spec)
		if !errors.Is(err, ErrUser) {
			t.Errorf("%q: got %+v, %v; want an ErrUser", tt.spec, u, err)
			continue
		}
		if !strings.Contains(err.Error(), "ENVINIT_USER") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %q; want it to name ENVINIT_USER and say %q", tt.spec, err, tt.want)
		}
	}
}

func TestParseUserWithoutAccountFiles(t *testing.T) {
	needRoot(t)
	oldPasswd, oldGroup := passwdFile, groupFile
	passwdFile, groupFile = "/nonexistent/passwd", "/nonexistent/group"
	t.Cleanup(func() { passwdFile, groupFile = oldPasswd, oldGroup })

	got, err := ParseUser("65532:65532")
	want := User{Spec: "65532:65532", UID: 65532, GID: 65532, Groups: []int{65532}, Home: "/"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseUser("app"); !errors.Is(err, ErrUser) {
		t.Errorf("a name without /etc/passwd: got %v; want an ErrUser", err)
	}
}

// TestDropPrivileges drops privileges in a child process (see child_linux_test.go).
func TestDropPrivileges(t *testing.T) {
	needRoot(t)
	passwd, group := accountFiles(t)
	root := shmDir(t) // root-owned
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatal(err)
	}
	sticky := shmDir(t)
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	out := runChild(t, "drop", "PASSWD="+passwd, "GROUP="+group, "USER_SPEC=app",
		"WORLD_WRITABLE="+root, "STICKY="+sticky)
	want := []string{
		"ids=1000 1000 1000 1000",
		"groups=[1000 2000 2001]",
		"threads=all 1000/1000/1000,2000,2001",
		"setuid(0)=operation not permitted",
		"again=ErrUser",
		"parse=ErrUser",
		"world-writable=ErrFiles",
		"sticky=ok",
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("child said:\n%s\nwant a line %q", out, w)
		}
	}
}

func TestDropPrivilegesFailsClosed(t *testing.T) {
	needRoot(t)
	if out := runChild(t, "drop-fails"); out != "drop=ErrUser\n" {
		t.Errorf("with a setuid that does nothing, the child said %q; want drop=ErrUser", out)
	}
}

// runChild runs this test binary again in child mode (see TestMain).
func runChild(t *testing.T, mode string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{childEnv + "=" + mode}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return string(out)
}
