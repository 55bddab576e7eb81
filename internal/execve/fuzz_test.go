package execve

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

// fuzzMark starts every canary the fuzz target appends to a value; inputs
// that already hold it are skipped, so finding it in an output means a value
// got there.
const fuzzMark = "\u2620"

// FuzzBuildEnv feeds BuildEnv what the resolver could hand it and checks
// the properties COMMAND's environment must have whatever the input:
//
//   - no panic;
//   - the environment is sorted by name with one entry per name, every
//     entry NAME=value with a non-empty name, no ENVINIT_* name;
//   - no sensitive value anywhere in the environment, and no value of any
//     kind in an error;
//   - every sensitive variable that wins its name has a file with its value
//     and KEY_FILE={dir}/KEY, and KEY itself is not in the environment;
//     files are sorted by key, one per key;
//   - every other winning variable is in the environment with its value;
//   - an error is a *ConflictError (KEY_FILE set by a secret or a resolved
//     container variable next to a sensitive KEY), a *resolve.ValueError (a
//     KEY_FILE that would be ENVINIT_* or LD_*, a NAME=value over the
//     kernel's limit) or an ErrFiles (no directory), and only when that is
//     the case.
//
// container is os.Environ(), one entry per line. envRefs and secrets are
// lines KEY=VALUE, a leading "!" marking a sensitive one. Inputs are shaped
// the way resolve.Resolve returns them: secrets have valid, unique keys
// outside ENVINIT_* and LD_*, sorted; envRefs are container variables
// (first occurrence, not ENVINIT_*), unique, sorted.
func FuzzBuildEnv(f *testing.F) {
	seeds := []struct {
		container, envRefs, secrets string
		override, dir               bool
	}{
		{"ENVINIT_SERVICE=svc\nHOME=/root\nA=first\nA=second\nNOEQUALS\n=v", "", "B=1", true, true},
		{"LEVEL=debug\nDB_PASSWORD=old\nDB_PASSWORD_FILE=/elsewhere", "", "!DB_PASSWORD=pw\nLEVEL=info", true, true},
		{"DB_PASSWORD_FILE=/mine", "", "!DB_PASSWORD=pw", false, true},
		{"DSN=#{$/P}", "!DSN=postgres://u:pw@h", "DSN_FILE=x", false, true},
		{"DSN=#{$/P}", "!DSN=postgres://u:pw@h", "DSN=plain", true, true},
		{"", "", "!K=a\n!K_FILE=b", true, true},
		{"", "", "!TOKEN=t", true, false},
		{"X_FILE=#{$/F}", "X_FILE=/f", "!X=v", true, true},
	}
	for _, s := range seeds {
		f.Add(s.container, s.envRefs, s.secrets, s.override, s.dir)
	}
	f.Fuzz(func(t *testing.T, containerIn, envRefsIn, secretsIn string, override, withDir bool) {
		if strings.Contains(containerIn+envRefsIn+secretsIn, fuzzMark) {
			return
		}
		dir := ""
		if withDir {
			dir = "/run/secrets"
		}
		container := strings.Split(containerIn, "\n")
		if containerIn == "" {
			container = nil
		}
		firstOf := map[string]bool{} // names the container sets, as getenv sees them
		for _, kv := range container {
			if k, _, ok := strings.Cut(kv, "="); ok && k != "" && !strings.HasPrefix(k, "ENVINIT_") {
				firstOf[k] = true
			}
		}
		n := 0
		canary := func(sensitive bool) string {
			n++
			kind := "P"
			if sensitive {
				kind = "S"
			}
			return fuzzMark + kind + strconv.Itoa(n) + fuzzMark
		}
		// The resolver hands over each name once, sorted.
		parse := func(in, origin string, ok func(string) bool) []resolve.Secret {
			var out []resolve.Secret
			seen := map[string]bool{}
			for line := range strings.SplitSeq(in, "\n") {
				sensitive := strings.HasPrefix(line, "!")
				k, v, found := strings.Cut(strings.TrimPrefix(line, "!"), "=")
				if !found || seen[k] || !ok(k) {
					continue
				}
				seen[k] = true
				out = append(out, resolve.Secret{Key: k, Value: resolve.NewValue(v + canary(sensitive)), Sensitive: sensitive, Origin: origin})
			}
			slices.SortFunc(out, func(a, b resolve.Secret) int { return strings.Compare(a.Key, b.Key) })
			return out
		}
		envRefs := parse(envRefsIn, resolve.OriginEnv, func(k string) bool { return firstOf[k] })
		secrets := parse(secretsIn, "svc", func(k string) bool {
			return validName(k) && !strings.HasPrefix(k, "ENVINIT_") && !strings.HasPrefix(k, "LD_")
		})

		env, files, err := BuildEnv(Env{Container: container, Refs: envRefs, Secrets: secrets, Override: override, Dir: dir})

		// The model: who wins each name (the README's Environment of COMMAND), written from the spec.
		type winner struct {
			value     string
			sensitive bool
			store     bool // a secret or a resolved container variable, not the container's raw value
		}
		win := map[string]winner{}
		for _, kv := range container {
			k, v, ok := strings.Cut(kv, "=")
			if _, dup := win[k]; ok && k != "" && !strings.HasPrefix(k, "ENVINIT_") && !dup {
				win[k] = winner{value: v}
			}
		}
		for _, s := range envRefs {
			win[s.Key] = winner{value: s.Value.Reveal(), sensitive: s.Sensitive, store: true}
		}
		for _, s := range secrets {
			// Without override, a name the container sets (raw or resolved)
			// wins; for a sensitive KEY, so does a KEY_FILE it sets.
			if !override && (firstOf[s.Key] || s.Sensitive && firstOf[s.Key+"_FILE"]) {
				continue
			}
			win[s.Key] = winner{value: s.Value.Reveal(), sensitive: s.Sensitive, store: true}
		}
		var conflict, needDir, reserved, tooLong bool
		for k, w := range win {
			if !w.sensitive {
				// The kernel's limit on one environment string.
				tooLong = tooLong || w.store && len(k)+len(w.value)+2 > maxEnvString
				continue
			}
			needDir = true
			if fw, ok := win[k+"_FILE"]; ok && fw.store && !fw.sensitive {
				conflict = true
			}
			if f := k + "_FILE"; strings.HasPrefix(f, "ENVINIT_") || strings.HasPrefix(f, "LD_") {
				reserved = true
			}
		}

		if err != nil {
			if strings.Contains(err.Error(), fuzzMark) {
				t.Fatalf("error holds a value: %q", err)
			}
			var ce *ConflictError
			var ve *resolve.ValueError
			switch {
			case errors.As(err, &ce):
				if !conflict || !errors.Is(err, resolve.ErrData) {
					t.Fatalf("got %v (ErrData %v); want a conflict only when a sensitive KEY's KEY_FILE comes from the store", err, errors.Is(err, resolve.ErrData))
				}
			case errors.As(err, &ve):
				if !reserved && !tooLong || !errors.Is(err, resolve.ErrData) {
					t.Fatalf("got %v (ErrData %v); want a value error only for an ENVINIT_* or LD_* KEY_FILE, or an environment string over the kernel's limit", err, errors.Is(err, resolve.ErrData))
				}
			case errors.Is(err, ErrFiles):
				if dir != "" || !needDir {
					t.Fatalf("got %v; want ErrFiles only for a sensitive value with no directory", err)
				}
			default:
				t.Fatalf("got %v (%T); want a *ConflictError, a *resolve.ValueError or an ErrFiles", err, err)
			}
			return
		}
		switch {
		case conflict:
			t.Fatalf("got no error; want a *ConflictError (a sensitive KEY and a KEY_FILE from the store)")
		case reserved:
			t.Fatalf("got no error; want a *resolve.ValueError (a sensitive KEY whose KEY_FILE is ENVINIT_* or LD_*)")
		case tooLong:
			t.Fatalf("got no error; want a *resolve.ValueError (NAME=value over %d bytes)", maxEnvString)
		case needDir && dir == "":
			t.Fatalf("got no error; want an ErrFiles (a sensitive value and no directory)")
		}

		got := map[string]string{}
		for i, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				t.Fatalf("env[%d] %q: want NAME=value", i, kv)
			}
			if strings.HasPrefix(k, "ENVINIT_") {
				t.Fatalf("env holds %s; want no ENVINIT_* variable", k)
			}
			if i > 0 {
				prev, _, _ := strings.Cut(env[i-1], "=")
				if prev >= k {
					t.Fatalf("env names %q then %q; want sorted, each once", prev, k)
				}
			}
			if strings.Contains(v, fuzzMark+"S") {
				t.Fatalf("env %s holds a sensitive value", k)
			}
			got[k] = v
		}
		for i, fl := range files {
			if i > 0 && files[i-1].Key >= fl.Key {
				t.Fatalf("files %q then %q; want sorted by key, each once", files[i-1].Key, fl.Key)
			}
		}

		want := map[string]string{}
		var wantFiles []string
		for k, w := range win {
			if !w.sensitive {
				if _, set := want[k]; !set { // a KEY_FILE path wins over a plain KEY_FILE
					want[k] = w.value
				}
				continue
			}
			want[k+"_FILE"] = filepath.Join(dir, k)
			wantFiles = append(wantFiles, k)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Fatalf("env %s: got %q (set %v); want %q", k, g, ok, v)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("env has %d names; want %d", len(got), len(want))
		}
		slices.Sort(wantFiles)
		var gotFiles []string
		for _, fl := range files {
			gotFiles = append(gotFiles, fl.Key)
			if fl.Value.Reveal() != win[fl.Key].value {
				t.Fatalf("file %s: got another value than the one that won %s", fl.Key, fl.Key)
			}
			// Only the path of another file may take a sensitive name:
			// K_FILE, when K is sensitive too.
			if v, inEnv := got[fl.Key]; inEnv && v != filepath.Join(dir, strings.TrimSuffix(fl.Key, "_FILE")) {
				t.Fatalf("sensitive %s is in the env; want only %s_FILE", fl.Key, fl.Key)
			}
		}
		if !slices.Equal(gotFiles, wantFiles) {
			t.Fatalf("files: got %q; want %q", gotFiles, wantFiles)
		}
	})
}
