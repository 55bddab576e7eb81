package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// ENVINIT_USER: COMMAND runs as that user and can read its secret files,
// which it owns, mode 0400. A world-writable secrets dir (docker --tmpfs
// is 1777) must not stay writable by others. A directory the user could not
// enter must not yield a COMMAND that cannot read its KEY_FILE: either
// envinit makes the file reachable, or it fails closed with 73.
func TestRunAsUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	const uid, gid = 65534, 65534
	cases := []struct {
		name string
		mode os.FileMode
		user string
	}{
		{"docker tmpfs dir 1777", 0o777 | os.ModeSticky, "65534:65534"},
		{"dir 0755", 0o755, "65534:65534"},
		{"root-only dir 0700", 0o700, "65534:65534"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			secret := "pw=" + newCanary("api/PW") + "\n"
			f.seed(t, map[string]string{
				"services/api/__sensitive": "PW",
				"services/api/PW":          secret,
				"services/api/PLAIN":       "plain",
			})
			if err := os.Chmod(f.secrets, tc.mode); err != nil {
				t.Fatal(err)
			}
			// No marker: the user could not write it.
			r := runEnvinit(t, f.env("api", "ENVINIT_USER="+tc.user), "--", probeBin, "report")
			assertStderrClean(t, r, f.canaries()...)
			if r.Code != 0 {
				assertCode(t, r, 73)
				assertEmptyDir(t, f.secrets)
				return
			}
			p := parseProbe(t, r.Stdout)
			if p.UID != uid || p.GID != gid {
				t.Errorf("COMMAND ran as %d:%d; want %d:%d", p.UID, p.GID, uid, gid)
			}
			if pf := p.Files[filepath.Join(f.secrets, "PW")]; pf.Error != "" {
				t.Errorf("COMMAND cannot read its PW_FILE (%s); want it readable, or envinit to fail with 73", pf.Error)
			} else {
				assertSecretFile(t, p, f.secrets, "PW", secret)
			}
			assertEnv(t, p, "PLAIN", "plain")
			st, err := os.Stat(f.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm()&0o022 != 0 {
				t.Errorf("secrets dir mode after the run: got %v; want it writable by its owner only", st.Mode())
			}
		})
	}
}
