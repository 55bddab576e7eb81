//go:build linux

package execve

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The account databases; tests point them elsewhere. envinit is static and
// has no NSS: like gosu and runc it reads the files themselves.
var (
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
)

// ParseUser resolves ENVINIT_USER: "user", "user:group", "uid", "uid:gid",
// "uid:group" or "user:gid". Names are looked up in /etc/passwd and
// /etc/group; a number is always an id, and need not have an entry.
//
// The gid follows gosu (runc's GetExecUser), the groups login's initgroups:
//   - with a group, it is the only group;
//   - without one, a user with a passwd entry gets its primary gid plus
//     every group that lists it as a member;
//   - a uid with no entry keeps envinit's own gid, 0 under root, as gosu
//     and docker run --user 1234 do; give uid:gid to run with another group.
//
// Only root can switch users, so ParseUser fails when envinit is not root:
// better before the files are written than after. Errors match ErrUser.
func ParseUser(spec string) (User, error) {
	fail := func(reason string, err error) (User, error) {
		return User{}, &UserError{Spec: spec, Reason: reason, Err: err}
	}
	if euid := os.Geteuid(); euid != 0 {
		return fail(fmt.Sprintf("switching users needs root, and envinit runs as uid %d; unset ENVINIT_USER or run the container as root", euid), nil)
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" || hasGroup && group == "" {
		return fail("want user, user:group, uid or uid:gid", nil)
	}

	users, err := readDB(passwdFile, 7)
	if err != nil {
		return fail("cannot read "+passwdFile, err)
	}
	uid, numeric := parseID(name)
	i := slices.IndexFunc(users, func(f []string) bool {
		id, ok := parseID(f[2])
		_, gok := parseID(f[3])
		return ok && gok && (numeric && id == uid || !numeric && f[0] == name)
	})
	var u User
	switch {
	case i >= 0: // the first entry wins, as for getpwnam
		f := users[i]
		u.Name, u.Home = f[0], f[5]
		u.UID, _ = parseID(f[2])
		u.GID, _ = parseID(f[3])
	case numeric:
		u.UID, u.GID, u.Home = uid, os.Getgid(), "/"
	default:
		return fail(fmt.Sprintf("no user %q in %s", name, passwdFile), nil)
	}
	u.Spec = spec

	if !hasGroup && u.Name == "" {
		u.Groups = []int{u.GID}
		return u, nil
	}
	groups, err := readDB(groupFile, 4)
	if err != nil {
		return fail("cannot read "+groupFile, err)
	}
	if hasGroup {
		gid, numeric := parseID(group)
		if !numeric {
			i := slices.IndexFunc(groups, func(f []string) bool {
				_, ok := parseID(f[2])
				return ok && f[0] == group
			})
			if i < 0 {
				return fail(fmt.Sprintf("no group %q in %s", group, groupFile), nil)
			}
			gid, _ = parseID(groups[i][2])
		}
		u.GID, u.Groups = gid, []int{gid}
		return u, nil
	}
	u.Groups = []int{u.GID}
	for _, f := range groups {
		gid, ok := parseID(f[2])
		if ok && !slices.Contains(u.Groups, gid) && slices.Contains(strings.Split(f[3], ","), u.Name) {
			u.Groups = append(u.Groups, gid)
		}
	}
	return u, nil
}

// parseID parses a uid or gid: a decimal in [0, 2^31-1], the range runc
// accepts (2^32-1 is (uid_t)-1, "no change", to the kernel).
func parseID(s string) (int, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// readDB reads a colon-separated account file, skipping comments and lines
// with fewer than n fields. A missing file has no entries: scratch and
// distroless images may have none, and numeric ids need none.
func readDB(path string, n int) ([][]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if fields := strings.Split(line, ":"); len(fields) >= n {
			rows = append(rows, fields)
		}
	}
	return rows, sc.Err()
}

// setuid is syscall.Setuid; a test makes it a no-op to prove that
// DropPrivileges notices a drop that did not hold.
var setuid = syscall.Setuid

// DropPrivileges switches the whole process to u for good: supplementary
// groups, then gid, then uid, the order gosu uses. Groups and gid must go
// first: once the uid is not 0 the process has lost the right to change
// them, and would keep root's groups. Go's syscall package applies each
// call to every thread (golang.org/x/sys/unix.Setgroups does not: it is a
// raw per-thread syscall). Afterwards setuid(0) must fail; if it does not,
// the drop did not hold and DropPrivileges fails closed. Errors match
// ErrUser.
func DropPrivileges(u User) error {
	fail := func(reason string, err error) error {
		return &UserError{Spec: u.Spec, Reason: reason, Err: err}
	}
	if euid := os.Geteuid(); euid != 0 {
		return fail(fmt.Sprintf("switching users needs root, and envinit runs as uid %d", euid), nil)
	}
	if err := syscall.Setgroups(u.Groups); err != nil {
		return fail("setgroups", err)
	}
	if err := syscall.Setgid(u.GID); err != nil {
		return fail("setgid", err)
	}
	if err := setuid(u.UID); err != nil {
		return fail("setuid", err)
	}
	if u.UID != 0 && setuid(0) == nil {
		return fail("setuid(0) still succeeds after dropping privileges; refusing to run", nil)
	}
	return nil
}

// NoNewPrivs sets no_new_privs (prctl PR_SET_NO_NEW_PRIVS) on every thread,
// so that whichever one execs passes it on: COMMAND and everything it
// starts can never gain privileges through execve, neither by a setuid or
// setgid binary nor by file capabilities. It cannot be undone.
func NoNewPrivs() error {
	if _, _, e := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return fmt.Errorf("ENVINIT_NO_NEW_PRIVS: prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	return nil
}
