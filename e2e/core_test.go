package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Own keys reach COMMAND as they are; special keys and parameters nested
// below the service path do not.
func TestOwnKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := newCanary("api/DB_USER")
	odd := "a=b = c " + newCanary("api/ODD") + " \"quoted\" 'single' $HOME `tick` \\ ünï"
	nested := newCanary("api/nested/DEEP")
	f.seed(t, map[string]string{
		"services/api/DB_USER":     user,
		"services/api/ODD":         odd,
		"services/api/lower_case1": "ok",
		"services/api/nested/DEEP": nested,
		"services/api/__sensitive": "S",
		"services/api/S":           newCanary("api/S"),
	})
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertEnv(t, p, "DB_USER", user)
	assertEnv(t, p, "ODD", odd)
	assertEnv(t, p, "lower_case1", "ok")
	assertUnset(t, p, "DEEP")
	assertUnset(t, p, "nested")
	assertUnset(t, p, "__sensitive")
	assertUnset(t, p, "__import_svc")
	for _, kv := range p.Environ {
		if strings.Contains(kv, nested) {
			t.Errorf("a parameter nested below the service path reached COMMAND; want only the service's own level")
		}
	}
	assertNoEnvinitVars(t, p)
	assertNoDupes(t, p)
	assertDirHolds(t, f.secrets, "S")
}

// A service path is read page by page: every key of a service with more
// keys than one GetParametersByPath page (10) arrives, and more globals than
// one GetParameters call (10) resolve.
func TestManyKeysAndGlobals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kv := map[string]string{}
	want := map[string]string{}
	for i := range 27 {
		v := newCanary(fmt.Sprintf("api/K%02d", i))
		kv[fmt.Sprintf("services/api/K%02d", i)] = v
		want[fmt.Sprintf("K%02d", i)] = v
	}
	for i := range 23 {
		g := newCanary(fmt.Sprintf("global/G%02d", i))
		kv[fmt.Sprintf("global/G%02d", i)] = g
		kv[fmt.Sprintf("services/api/R%02d", i)] = fmt.Sprintf("<#{$/G%02d}>", i)
		want[fmt.Sprintf("R%02d", i)] = "<" + g + ">"
	}
	f.seed(t, kv)
	p := f.runOK(t, f.env("api"), f.probe()...)
	for k, v := range want {
		assertEnv(t, p, k, v)
	}
}

// #{$/KEY} is the global KEY; globals are not exported on their own.
func TestGlobalReference(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	host := newCanary("global/DB_HOST")
	dbUser := newCanary("global/DB_USER")
	f.seed(t, map[string]string{
		"global/DB_HOST":            host,
		"global/DB_USER":            dbUser,
		"global/UNUSED":             newCanary("global/UNUSED"),
		"services/api/DATABASE_URL": "postgres://#{$/DB_USER}@#{$/DB_HOST}:5432/app",
		"services/api/HOST":         "#{$/DB_HOST}",
	})
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertEnv(t, p, "DATABASE_URL", "postgres://"+dbUser+"@"+host+":5432/app")
	assertEnv(t, p, "HOST", host)
	assertUnset(t, p, "DB_HOST")
	assertUnset(t, p, "UNUSED")
}

// #{$ALIAS/KEY} is KEY as ALIAS sees it: its own keys over its imports.
func TestAliasReference(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	own := newCanary("other/OWN")
	shared := newCanary("base/SHARED")
	mine := newCanary("other/K")
	f.seed(t, map[string]string{
		"services/base/SHARED":        shared,
		"services/base/K":             newCanary("base/K"),
		"services/other/__import_svc": "$base",
		"services/other/OWN":          own,
		"services/other/K":            mine,
		"services/api/A":              "#{$other/OWN}",
		"services/api/B":              "[#{$other/SHARED}]",
		"services/api/C":              "#{$other/K}",
		"services/api/SELF":           "x#{$api/A}x",
	})
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertEnv(t, p, "A", own)
	assertEnv(t, p, "B", "["+shared+"]")
	assertEnv(t, p, "C", mine)
	assertEnv(t, p, "SELF", "x"+own+"x")
	// A reference reads the other service; it does not import it.
	assertUnset(t, p, "OWN")
	assertUnset(t, p, "SHARED")
}

// A referenced value may itself hold references, through globals and
// services alike.
func TestRecursiveReferences(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf := newCanary("global/G3")
	f.seed(t, map[string]string{
		"global/G1":          "#{$/G2}-1",
		"global/G2":          "#{$other/X}-2",
		"global/G3":          leaf,
		"services/other/X":   "#{$/G3}-x",
		"services/api/V":     "v:#{$/G1}",
		"services/api/TWICE": "#{$/G3}#{$/G3}",
	})
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertEnv(t, p, "V", "v:"+leaf+"-x-2-1")
	assertEnv(t, p, "TWICE", leaf+leaf)
}

// ##{ is a literal #{, and a # that starts neither is literal; neither is
// resolved.
func TestEscapeAndLoneHash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := newCanary("global/G")
	f.seed(t, map[string]string{
		"global/G":             g,
		"services/api/ESCAPED": "a##{b}c",
		"services/api/ESC_REF": "##{$/G}",
		"services/api/MIXED":   "##{$/G}=#{$/G}",
		"services/api/HASH":    "#",
		"services/api/HASHES":  "color: #fff; # comment #$ #} {#} ## #",
		"services/api/TRAIL":   "x#",
	})
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertEnv(t, p, "ESCAPED", "a#{b}c")
	assertEnv(t, p, "ESC_REF", "#{$/G}")
	assertEnv(t, p, "MIXED", "#{$/G}="+g)
	assertEnv(t, p, "HASH", "#")
	assertEnv(t, p, "HASHES", "color: #fff; # comment #$ #} {#} ## #")
	assertEnv(t, p, "TRAIL", "x#")
}

// __import_svc: one or several ($a, $b: later overrides earlier),
// transitive, and the service's own keys override all imports.
func TestImports(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		imports string
		want    map[string]string // key -> service whose value wins
	}{
		{"one", "$a", map[string]string{"K": "a", "A_ONLY": "a", "OWN": "api"}},
		{"several comma", "$a, $b", map[string]string{"K": "b", "A_ONLY": "a", "B_ONLY": "b", "T": "t"}},
		{"several reversed", "$b,$a", map[string]string{"K": "a", "A_ONLY": "a", "B_ONLY": "b"}},
		{"several spaces", "$a $b", map[string]string{"K": "b", "A_ONLY": "a", "B_ONLY": "b"}},
		{"transitive", "$b", map[string]string{"K": "b", "T": "t", "OWN": "api"}},
		{"own overrides", "$a, $b", map[string]string{"OWN": "api", "T_OVER": "api"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			v := func(svc, key string) string { return svc + ":" + key }
			f.seed(t, map[string]string{
				"services/a/K":              v("a", "K"),
				"services/a/A_ONLY":         v("a", "A_ONLY"),
				"services/a/OWN":            v("a", "OWN"),
				"services/b/__import_svc":   "$t",
				"services/b/K":              v("b", "K"),
				"services/b/B_ONLY":         v("b", "B_ONLY"),
				"services/b/T_OVER":         v("b", "T_OVER"),
				"services/t/T":              v("t", "T"),
				"services/t/T_OVER":         v("t", "T_OVER"),
				"services/t/K":              v("t", "K"),
				"services/api/__import_svc": tc.imports,
				"services/api/OWN":          v("api", "OWN"),
				"services/api/T_OVER":       v("api", "T_OVER"),
				"services/api/B_VIEW":       "#{$b/T_OVER}",
			})
			p := f.runOK(t, f.env("api"), f.probe()...)
			for key, svc := range tc.want {
				assertEnv(t, p, key, v(svc, key))
			}
			// b sees its own T_OVER over the one it imports from t.
			assertEnv(t, p, "B_VIEW", v("b", "T_OVER"))
			assertUnset(t, p, "__import_svc")
		})
	}
}

// A diamond (api imports left and right, both import base) resolves, the
// same way every time.
func TestDiamondImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{
		"services/base/D":             "base:D",
		"services/base/K":             "base:K",
		"services/left/__import_svc":  "$base",
		"services/left/L":             "left:L",
		"services/left/K":             "left:K",
		"services/right/__import_svc": "$base",
		"services/right/R":            "right:R",
		"services/api/__import_svc":   "$left, $right",
		"services/api/REF":            "#{$right/D}/#{$left/K}",
	})
	var first probeReport
	for i := range 3 {
		p := f.runOK(t, f.env("api"), f.probe()...)
		assertEnv(t, p, "D", "base:D")
		assertEnv(t, p, "L", "left:L")
		assertEnv(t, p, "R", "right:R")
		assertEnv(t, p, "REF", "base:D/left:K")
		// right, imported last, brings K as it sees it: base's.
		assertEnv(t, p, "K", "base:K")
		if i == 0 {
			first = p
			continue
		}
		for _, k := range []string{"D", "L", "R", "K", "REF"} {
			if p.Env[k] != first.Env[k] {
				t.Errorf("run %d: env %s: got %q; want %q as in the first run", i+1, k, p.Env[k], first.Env[k])
			}
		}
	}
}

// A key listed in __sensitive is not in the environment: its value is in
// {SECRETS_DIR}/{KEY}, byte for byte, mode 0400, and KEY_FILE names it. A
// KEY already in the container env is removed.
func TestSensitiveFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pass := "line1=" + newCanary("api/DB_PASS") + "\nline2==\n"
	key := newCanary("api/API_KEY")
	f.seed(t, map[string]string{
		"services/api/__sensitive": "DB_PASS,API_KEY",
		"services/api/DB_PASS":     pass,
		"services/api/API_KEY":     key,
		"services/api/PLAIN":       "plain",
	})
	// The flag, not the variable, names the secrets dir here.
	env := withEnv(f.env("api"), "ENVINIT_SECRETS_DIR", "API_KEY=from-container")
	args := append([]string{"--secrets-dir", f.secrets}, f.probe()...)
	p := f.runOK(t, env, args...)
	assertSecretFile(t, p, f.secrets, "DB_PASS", pass)
	assertSecretFile(t, p, f.secrets, "API_KEY", key)
	assertEnv(t, p, "PLAIN", "plain")
	assertDirHolds(t, f.secrets, "API_KEY", "DB_PASS")
	for _, kv := range p.Environ {
		for _, c := range canariesIn(pass, key) {
			if strings.Contains(kv, c) {
				t.Errorf("env %s holds a sensitive value (labelled %q); want it only in a file", strings.SplitN(kv, "=", 2)[0], canaryLabel(c))
			}
		}
	}
}

// A value that interpolates a sensitive value is sensitive too, however
// it reaches it; an imported secret keeps its sensitivity.
func TestSensitiveTaintAndImport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := newCanary("api/TOKEN")
	gpass := newCanary("global/G_PASS")
	bsecret := newCanary("base/B_SECRET")
	opass := newCanary("other/O_PASS")
	f.seed(t, map[string]string{
		"global/__sensitive":         "G_PASS",
		"global/G_PASS":              gpass,
		"global/G_VIA":               "via:#{$/G_PASS}",
		"global/G_PLAIN":             "gplain",
		"services/base/__sensitive":  "B_SECRET",
		"services/base/B_SECRET":     bsecret,
		"services/base/B_PLAIN":      "bplain",
		"services/other/__sensitive": "O_PASS",
		"services/other/O_PASS":      opass,
		"services/api/__import_svc":  "$base",
		"services/api/__sensitive":   "TOKEN",
		"services/api/TOKEN":         token,
		"services/api/AUTH":          "Bearer #{$api/TOKEN}",
		"services/api/DSN":           "pg://u:#{$/G_PASS}@h",
		"services/api/CHAIN":         "[#{$/G_VIA}]",
		"services/api/FROM_OTHER":    "#{$other/O_PASS}",
		"services/api/FROM_BASE":     "b=#{$base/B_SECRET}",
		"services/api/PLAIN":         "#{$/G_PLAIN}+#{$base/B_PLAIN}",
	})
	// A container variable that interpolates a sensitive value is
	// sensitive too.
	env := f.env("api", "CONTAINER_DSN=x:#{$/G_PASS}", "CONTAINER_PLAIN=x:#{$/G_PLAIN}")
	p := f.runOK(t, env, f.probe()...)
	assertSecretFile(t, p, f.secrets, "CONTAINER_DSN", "x:"+gpass)
	assertEnv(t, p, "CONTAINER_PLAIN", "x:gplain")
	assertSecretFile(t, p, f.secrets, "TOKEN", token)
	assertSecretFile(t, p, f.secrets, "AUTH", "Bearer "+token)
	assertSecretFile(t, p, f.secrets, "DSN", "pg://u:"+gpass+"@h")
	assertSecretFile(t, p, f.secrets, "CHAIN", "[via:"+gpass+"]")
	assertSecretFile(t, p, f.secrets, "FROM_OTHER", opass)
	assertSecretFile(t, p, f.secrets, "FROM_BASE", "b="+bsecret)
	assertSecretFile(t, p, f.secrets, "B_SECRET", bsecret)
	assertEnv(t, p, "B_PLAIN", "bplain")
	assertEnv(t, p, "PLAIN", "gplain+bplain")
	assertDirHolds(t, f.secrets, "AUTH", "B_SECRET", "CHAIN", "CONTAINER_DSN", "DSN", "FROM_BASE", "FROM_OTHER", "TOKEN")
}

// A service may mark a key it imports as sensitive. Then every value that
// holds that key's bytes is sensitive: the imported value that interpolates
// it, a key of the service that references that one, a container variable
// that does, and a reference to another service that marks the key. The
// child's environment holds no canary at all.
func TestSensitiveImporterMarkTaints(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pw := newCanary("base/PW")
	f.seed(t, map[string]string{
		"services/base/PW":          pw,
		"services/base/URL":         "u:#{$base/PW}",
		"services/base/PLAIN":       "plain",
		"services/mid/__import_svc": "$base",
		"services/mid/__sensitive":  "PW",
		"services/api/__import_svc": "$base",
		"services/api/__sensitive":  "PW",
		"services/api/OWN":          "o:#{$api/URL}",
		"services/api/VIA_MID":      "m:#{$mid/URL}",
	})
	p := f.runOK(t, f.env("api", "CONTAINER_DSN=d:#{$api/URL}"), f.probe()...)
	for _, kv := range p.Environ {
		if strings.Contains(kv, pw) {
			k, _, _ := strings.Cut(kv, "=")
			t.Errorf("the child's environment variable %s holds base/PW's value", k)
		}
	}
	assertSecretFile(t, p, f.secrets, "PW", pw)
	assertSecretFile(t, p, f.secrets, "URL", "u:"+pw)
	assertSecretFile(t, p, f.secrets, "OWN", "o:u:"+pw)
	assertSecretFile(t, p, f.secrets, "VIA_MID", "m:u:"+pw)
	assertSecretFile(t, p, f.secrets, "CONTAINER_DSN", "d:u:"+pw)
	assertEnv(t, p, "PLAIN", "plain")
	assertDirHolds(t, f.secrets, "CONTAINER_DSN", "OWN", "PW", "URL", "VIA_MID")
}

// A restart (the secrets dir outlives the container) replaces the files;
// a symlink or a file planted in the directory neither redirects nor
// exposes them.
func TestSensitiveRestartAndPlanted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first1 := "first-" + newCanary("api/S1 v1")
	first2 := "first-" + newCanary("api/S2 v1")
	f.seed(t, map[string]string{
		"services/api/__sensitive": "S1,S2",
		"services/api/S1":          first1,
		"services/api/S2":          first2,
	})
	p := f.runOK(t, f.env("api"), f.probe()...)
	assertSecretFile(t, p, f.secrets, "S1", first1)
	assertSecretFile(t, p, f.secrets, "S2", first2)

	// Second start, new values, with a symlink planted for S1 and a
	// world-readable file for S2.
	s1 := "second-" + newCanary("api/S1 v2")
	s2 := "second-" + newCanary("api/S2 v2")
	f.seed(t, map[string]string{"services/api/S1": s1, "services/api/S2": s2})
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.secrets, "S1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(f.secrets, "S1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.secrets, "S2")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.secrets, "S2"), []byte("planted"), 0o666); err != nil {
		t.Fatal(err)
	}
	p = f.runOK(t, f.env("api"), f.probe()...)
	assertSecretFile(t, p, f.secrets, "S1", s1)
	assertSecretFile(t, p, f.secrets, "S2", s2)
	if b, err := os.ReadFile(victim); err != nil || string(b) != "victim" {
		t.Errorf("symlink target: got %q, %v; want it untouched", redact(string(b)), err)
	}
	assertDirHolds(t, f.secrets, "S1", "S2")
}

// References in the values of the container's own environment resolve.
func TestContainerEnvReferences(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	host := newCanary("global/DB_HOST")
	k := newCanary("api/K")
	f.seed(t, map[string]string{
		"global/DB_HOST": host,
		"services/api/K": k,
	})
	env := f.env("api",
		"DATABASE_URL=postgres://#{$/DB_HOST}/db",
		"FROM_SVC=#{$api/K}",
		"LITERAL=a##{b}",
		"UNTOUCHED=x#y",
		"LD_LIBRARY_PATH=/nonexistent/lib", // the operator's own: only the store may not set it
	)
	env = append(env, "DUP=first", "DUP=second")
	p := f.runOK(t, env, f.probe()...)
	assertEnv(t, p, "LD_LIBRARY_PATH", "/nonexistent/lib")
	assertNoDupes(t, p)
	assertEnv(t, p, "DATABASE_URL", "postgres://"+host+"/db")
	assertEnv(t, p, "FROM_SVC", k)
	assertEnv(t, p, "LITERAL", "a#{b}")
	assertEnv(t, p, "UNTOUCHED", "x#y")
	assertEnv(t, p, "PATH", "/usr/local/bin:/usr/bin:/bin")
}

// ENVINIT_OVERRIDE=true (the default): the store wins over the container
// env; false: the container wins. Either way, keys only one side has are
// there, and no ENVINIT_* variable reaches COMMAND.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		extra []string
		flags []string
		want  string
	}{
		{"default store wins", nil, nil, "store"},
		{"override true store wins", []string{"ENVINIT_OVERRIDE=true"}, nil, "store"},
		{"override false container wins", []string{"ENVINIT_OVERRIDE=false"}, nil, "container"},
		{"flag override false container wins", []string{"ENVINIT_OVERRIDE=true"}, []string{"--override=false"}, "container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{
				"services/api/LOG_LEVEL":  "store",
				"services/api/STORE_ONLY": "s",
			})
			env := f.env("api", append([]string{"LOG_LEVEL=container", "CONTAINER_ONLY=c", "ENVINIT_LOG=info", "ENVINIT_TIMEOUT=45s"}, tc.extra...)...)
			args := append(slices.Clone(tc.flags), f.probe()...)
			p := f.runOK(t, env, args...)
			assertEnv(t, p, "LOG_LEVEL", tc.want)
			assertEnv(t, p, "STORE_ONLY", "s")
			assertEnv(t, p, "CONTAINER_ONLY", "c")
			assertNoEnvinitVars(t, p)
			assertNoDupes(t, p)
		})
	}
}

// envinit execs COMMAND in its own process: the probe has the pid of the
// envinit process the test started, and the test as its parent; argv
// arrives unchanged, with no reference in it resolved.
func TestExecReplacesEnvinit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{"services/api/K": "v", "global/G": "g"})
	odd := []string{"a b", "", "#{$/G}", "--", "-x", "--service=evil", "ü\tz"}
	args := f.probe(odd...)
	r := runEnvinit(t, f.env("api"), args...)
	assertCode(t, r, 0)
	if r.Code != 0 {
		t.FailNow()
	}
	p := parseProbe(t, r.Stdout)
	if p.PID != r.PID {
		t.Errorf("probe pid: got %d; want %d (the envinit process, replaced by exec)", p.PID, r.PID)
	}
	if p.PPID != os.Getpid() {
		t.Errorf("probe ppid: got %d; want %d (the test process)", p.PPID, os.Getpid())
	}
	wantArgs := args[1:] // without the "--"
	if !slices.Equal(p.Args, wantArgs) {
		t.Errorf("argv: got %q; want %q", p.Args, wantArgs)
	}
}

// COMMAND without a slash is looked up in PATH of the final environment:
// the store's PATH when it wins, the container's when it wins.
func TestPathLookupInFinalEnv(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.Symlink(probeBin, filepath.Join(bin, "probe")); err != nil {
		t.Fatal(err)
	}
	t.Run("store PATH", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, map[string]string{"services/api/PATH": bin + ":/usr/bin:/bin"})
		p := f.runOK(t, f.env("api", "PATH=/usr/bin:/bin"), "--", "probe", "report", "x")
		if want := []string{"probe", "report", "x"}; !slices.Equal(p.Args, want) {
			t.Errorf("argv: got %q; want %q", p.Args, want)
		}
		assertEnv(t, p, "PATH", bin+":/usr/bin:/bin")
	})
	t.Run("container PATH wins", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, map[string]string{"services/api/PATH": bin + ":/usr/bin:/bin"})
		f.runFail(t, 127, f.env("api", "PATH=/usr/bin:/bin", "ENVINIT_OVERRIDE=false"), "--", "probe", "report", "--marker", f.marker)
	})
	t.Run("container PATH references the store", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, map[string]string{"global/BIN": bin, "services/api/K": "v"})
		p := f.runOK(t, f.env("api", "PATH=#{$/BIN}:/usr/bin"), append([]string{"--service", "api"}, "--", "probe", "report")...)
		assertEnv(t, p, "PATH", bin+":/usr/bin")
	})
}

// After the exec the exit code is COMMAND's own.
func TestExitCodePropagates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{"services/api/K": "v"})
	r := runEnvinit(t, f.env("api"), f.probe("--exit", "7")...)
	assertCode(t, r, 7)
	p := parseProbe(t, r.Stdout)
	if p.PID != r.PID {
		t.Errorf("probe pid: got %d; want %d", p.PID, r.PID)
	}
	assertEnv(t, p, "K", "v")
}

// A flag wins over its variable: over a value set, and over a value that
// would not even be valid.
func TestFlagsOverrideVariables(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		extra []string // changes to the fixture's environment
		flags func(f *fixture) []string
	}{
		{"service and prefix", []string{"ENVINIT_SERVICE=no-such-service", "ENVINIT_PREFIX=/no/such/prefix"},
			func(f *fixture) []string { return []string{"--service", "api", "--prefix", f.prefix} }},
		{"service only as a flag", []string{"ENVINIT_SERVICE"},
			func(*fixture) []string { return []string{"--service", "api"} }},
		{"invalid ENVINIT_TIMEOUT", []string{"ENVINIT_TIMEOUT=soon"},
			func(*fixture) []string { return []string{"--timeout", "40s"} }},
		{"invalid ENVINIT_OVERRIDE", []string{"ENVINIT_OVERRIDE=maybe"},
			func(*fixture) []string { return []string{"--override=true"} }},
		{"invalid ENVINIT_LOG", []string{"ENVINIT_LOG=loud"},
			func(*fixture) []string { return []string{"--log", "info"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.seed(t, map[string]string{"services/api/K": "api"})
			p := f.runOK(t, f.env("api", tc.extra...), append(tc.flags(f), f.probe()...)...)
			assertEnv(t, p, "K", "api")
		})
	}
}

// ENVINIT_PREFIX defaults to /envinit.
func TestDefaultPrefix(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alias := "svc-" + randHex(6) // unique under the shared /envinit prefix
	v := newCanary("default prefix")
	f.e.seed(t, "/envinit", map[string]string{"services/" + alias + "/K": v})
	f.seeded = append(f.seeded, v)
	p := f.runOK(t, withEnv(f.env(alias), "ENVINIT_PREFIX"), f.probe()...)
	assertEnv(t, p, "K", v)
}

// Unset, ENVINIT_SECRETS_DIR is /run/secrets if memory-backed and
// writable, else /dev/shm/envinit.
func TestDefaultSecretsDir(t *testing.T) {
	// Not parallel: it writes to the shared default directory.
	if isMemFS("/run/secrets") {
		t.Skip("/run/secrets is memory-backed here; the fallback cannot be observed")
	}
	const dir = "/dev/shm/envinit"
	if !isMemFS("/dev/shm") {
		t.Skip("/dev/shm is not memory-backed here")
	}
	_, statErr := os.Stat(dir)
	createdByUs := os.IsNotExist(statErr)
	key := "E2E_DEFAULT_" + strings.ToUpper(randHex(4))
	t.Cleanup(func() {
		os.Remove(filepath.Join(dir, key))
		if createdByUs {
			os.Remove(dir)
		}
	})
	f := newFixture(t)
	v := newCanary("api/" + key)
	f.seed(t, map[string]string{"services/api/__sensitive": key, "services/api/" + key: v})
	p := f.runOK(t, withEnv(f.env("api"), "ENVINIT_SECRETS_DIR"), f.probe()...)
	assertSecretFile(t, p, dir, key, v)
}

// With ENVINIT_LOG=debug, envinit says more on stderr, still no value.
func TestDebugLogHoldsNoValue(t *testing.T) {
	t.Parallel()
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, map[string]string{
			"global/__sensitive":        "G_PASS",
			"global/G_PASS":             newCanary("global/G_PASS"),
			"global/G_HOST":             newCanary("global/G_HOST"),
			"services/base/B":           newCanary("base/B"),
			"services/api/__import_svc": "$base",
			"services/api/__sensitive":  "S",
			"services/api/S":            newCanary("api/S"),
			"services/api/P":            newCanary("api/P"),
			"services/api/R":            "#{$/G_HOST}#{$/G_PASS}",
		})
		env := f.env("api", "ENVINIT_LOG=debug", "FROM_ENV=#{$/G_HOST}")
		r := runEnvinit(t, env, f.probe()...)
		assertCode(t, r, 0)
		assertStderrClean(t, r, f.canaries()...)
		if strings.TrimSpace(r.Stderr) == "" {
			t.Errorf("stderr with ENVINIT_LOG=debug: got nothing; want debug log lines")
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.seed(t, map[string]string{
			"global/G_HOST":            newCanary("global/G_HOST"),
			"services/api/__sensitive": "S",
			"services/api/S":           newCanary("api/S"),
			"services/api/P":           newCanary("api/P") + "#{$/G_HOST}",
			"services/api/BAD":         newCanary("api/BAD") + "#{$/MISSING}",
		})
		r := f.runFail(t, 65, f.env("api", "ENVINIT_LOG=debug"), f.probe()...)
		if !strings.Contains(r.Stderr, "MISSING") {
			t.Errorf("stderr: got %q; want it to name the missing key MISSING", redact(r.Stderr))
		}
	})
}

// envinit version exits 0 and prints something.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := runEnvinit(t, nil, "version")
	assertCode(t, r, 0)
	if strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("envinit version stdout: got nothing; want a version")
	}
}

// The binary under test is static (no ELF interpreter, no shared library)
// and stripped, so it runs in a scratch or distroless image.
func TestBinaryIsStatic(t *testing.T) {
	t.Parallel()
	assertStaticStripped(t, envinitBin)
}

// assertStaticStripped checks that the ELF file at path has no interpreter,
// links no shared library and has no symbol table.
func assertStaticStripped(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter; want a static binary", path)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("%s links %v; want no shared library", path, libs)
	}
	if s := f.Section(".symtab"); s != nil {
		t.Errorf("%s has a symbol table; want it stripped", path)
	}
}
