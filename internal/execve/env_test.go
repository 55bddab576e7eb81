package execve

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

// canary is a secret value that must never reach an error message.
const canary = "c4nary-s3cret-✓"

func noCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("error %q holds a secret value", err)
	}
}

func secret(key, value string, sensitive bool) resolve.Secret {
	return resolve.Secret{Key: key, Value: resolve.NewValue(value), Sensitive: sensitive, Origin: "svc-abc"}
}

func envRef(key, value string, sensitive bool) resolve.Secret {
	return resolve.Secret{Key: key, Value: resolve.NewValue(value), Sensitive: sensitive, Origin: resolve.OriginEnv}
}

func TestBuildEnv(t *testing.T) {
	tests := []struct {
		name      string
		container []string
		envRefs   []resolve.Secret
		secrets   []resolve.Secret
		keep      bool // ENVINIT_OVERRIDE=false
		wantEnv   []string
		wantFiles []string // KEY=value
	}{
		{
			name:      "ENVINIT_ variables are dropped",
			container: []string{"ENVINIT_SERVICE=svc-abc", "ENVINIT_LOG=debug", "HOME=/root"},
			wantEnv:   []string{"HOME=/root"},
		},
		{
			name:      "values keep every =",
			container: []string{"URL=postgres://h/db?a=b&c=d", "EMPTY=", "EQ=="},
			wantEnv:   []string{"EMPTY=", "EQ==", "URL=postgres://h/db?a=b&c=d"},
		},
		{
			name:      "entries without = or without a name are dropped",
			container: []string{"NOEQUALS", "=value", "A=1"},
			wantEnv:   []string{"A=1"},
		},
		{
			name:      "the first of duplicate names wins",
			container: []string{"A=first", "B=1", "A=second"},
			wantEnv:   []string{"A=first", "B=1"},
		},
		{
			name:      "sorted by name",
			container: []string{"Z=1", "A=2", "M=3"},
			secrets:   []resolve.Secret{secret("B", "4", false)},
			wantEnv:   []string{"A=2", "B=4", "M=3", "Z=1"},
		},
		{
			name:      "override: a secret replaces the container value",
			container: []string{"LEVEL=debug"},
			secrets:   []resolve.Secret{secret("LEVEL", "info", false), secret("NEW", "n", false)},
			wantEnv:   []string{"LEVEL=info", "NEW=n"},
		},
		{
			name:      "no override: the container value wins",
			container: []string{"LEVEL=debug"},
			secrets:   []resolve.Secret{secret("LEVEL", "info", false), secret("NEW", "n", false)},
			keep:      true,
			wantEnv:   []string{"LEVEL=debug", "NEW=n"},
		},
		{
			name:      "a sensitive secret becomes a file and KEY_FILE",
			secrets:   []resolve.Secret{secret("DB_PASSWORD", canary, true)},
			wantEnv:   []string{"DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD"},
			wantFiles: []string{"DB_PASSWORD=" + canary},
		},
		{
			name:      "a sensitive secret removes the container KEY and replaces its KEY_FILE",
			container: []string{"DB_PASSWORD=old", "DB_PASSWORD_FILE=/elsewhere"},
			secrets:   []resolve.Secret{secret("DB_PASSWORD", canary, true)},
			wantEnv:   []string{"DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD"},
			wantFiles: []string{"DB_PASSWORD=" + canary},
		},
		{
			name:      "no override: a container KEY wins over a sensitive secret, and no file is written",
			container: []string{"DB_PASSWORD=mine"},
			secrets:   []resolve.Secret{secret("DB_PASSWORD", canary, true)},
			keep:      true,
			wantEnv:   []string{"DB_PASSWORD=mine"},
		},
		{
			name:      "no override: a container KEY_FILE wins over a sensitive secret, and no file is written",
			container: []string{"DB_PASSWORD_FILE=/mine"},
			secrets:   []resolve.Secret{secret("DB_PASSWORD", canary, true)},
			keep:      true,
			wantEnv:   []string{"DB_PASSWORD_FILE=/mine"},
		},
		{
			name:      "a resolved container variable replaces its value, override or not",
			container: []string{"DATABASE_URL=postgres://#{$/DB_USER}@db", "A=1"},
			envRefs:   []resolve.Secret{envRef("DATABASE_URL", "postgres://app@db", false)},
			keep:      true,
			wantEnv:   []string{"A=1", "DATABASE_URL=postgres://app@db"},
		},
		{
			name:      "a resolved container variable that interpolates a sensitive value becomes a file",
			container: []string{"DSN=postgres://app:#{$/DB_PASSWORD}@db"},
			envRefs:   []resolve.Secret{envRef("DSN", "postgres://app:"+canary+"@db", true)},
			keep:      true,
			wantEnv:   []string{"DSN_FILE=/run/secrets/DSN"},
			wantFiles: []string{"DSN=postgres://app:" + canary + "@db"},
		},
		{
			name:      "override: a secret replaces a sensitive resolved container variable, file and all",
			container: []string{"DSN=#{$/DB_PASSWORD}"},
			envRefs:   []resolve.Secret{envRef("DSN", canary, true)},
			secrets:   []resolve.Secret{secret("DSN", "plain", false)},
			wantEnv:   []string{"DSN=plain"},
		},
		{
			name:      "a sensitive KEY_FILE secret is a file of its own",
			secrets:   []resolve.Secret{secret("K", canary, true), secret("K_FILE", "other", true)},
			wantEnv:   []string{"K_FILE=/run/secrets/K", "K_FILE_FILE=/run/secrets/K_FILE"},
			wantFiles: []string{"K=" + canary, "K_FILE=other"},
		},
		{
			name:      "files are sorted by key",
			secrets:   []resolve.Secret{secret("ZED", "z", true), secret("ALPHA", "a", true)},
			wantEnv:   []string{"ALPHA_FILE=/run/secrets/ALPHA", "ZED_FILE=/run/secrets/ZED"},
			wantFiles: []string{"ALPHA=a", "ZED=z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, files, err := BuildEnv(Env{Container: tt.container, Refs: tt.envRefs, Secrets: tt.secrets, Override: !tt.keep, Dir: "/run/secrets"})
			if err != nil {
				t.Fatalf("BuildEnv: %v", err)
			}
			if env == nil {
				env = []string{}
			}
			if tt.wantEnv == nil {
				tt.wantEnv = []string{}
			}
			if !slices.Equal(env, tt.wantEnv) {
				t.Errorf("env: got %q; want %q", env, tt.wantEnv)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Key+"="+f.Value.Reveal())
			}
			if !slices.Equal(got, tt.wantFiles) {
				t.Errorf("files: got %q; want %q", got, tt.wantFiles)
			}
		})
	}
}

func TestBuildEnvConflict(t *testing.T) {
	tests := []struct {
		name             string
		container        []string
		envRefs, secrets []resolve.Secret
		overrides        []bool // the ENVINIT_OVERRIDE values that conflict
		want             string
	}{
		{
			name:      "KEY_FILE is a secret",
			secrets:   []resolve.Secret{secret("DB_PASSWORD", canary, true), secret("DB_PASSWORD_FILE", canary, false)},
			overrides: []bool{true, false},
			want:      "$svc-abc/DB_PASSWORD is sensitive, so DB_PASSWORD_FILE must hold its file's path, but $svc-abc/DB_PASSWORD_FILE sets DB_PASSWORD_FILE too",
		},
		{
			name:      "KEY_FILE is a resolved container variable",
			container: []string{"DB_PASSWORD_FILE=/#{$/X}"},
			envRefs:   []resolve.Secret{envRef("DB_PASSWORD_FILE", canary, false)},
			secrets:   []resolve.Secret{secret("DB_PASSWORD", canary, true)},
			overrides: []bool{true}, // without override the container's DB_PASSWORD_FILE wins: no file
			want:      "$svc-abc/DB_PASSWORD is sensitive, so DB_PASSWORD_FILE must hold its file's path, but env DB_PASSWORD_FILE sets DB_PASSWORD_FILE too",
		},
		{
			name:      "the sensitive KEY is a resolved container variable",
			container: []string{"DSN=#{$/X}"},
			envRefs:   []resolve.Secret{envRef("DSN", canary, true)},
			secrets:   []resolve.Secret{secret("DSN_FILE", canary, false)},
			overrides: []bool{true, false},
			want:      "env DSN is sensitive, so DSN_FILE must hold its file's path, but $svc-abc/DSN_FILE sets DSN_FILE too",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, override := range tt.overrides {
				env, files, err := BuildEnv(Env{Container: tt.container, Refs: tt.envRefs, Secrets: tt.secrets, Override: override, Dir: "/run/secrets"})
				if !errors.Is(err, resolve.ErrData) {
					t.Fatalf("override=%v: got %v, %q, %d files; want a resolve.ErrData", override, err, env, len(files))
				}
				var ce *ConflictError
				if !errors.As(err, &ce) {
					t.Errorf("got %T; want *ConflictError", err)
				}
				if !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("got %q; want it to start %q", err, tt.want)
				}
				noCanary(t, err)
			}
		})
	}
}

func TestBuildEnvSensitiveNeedsDir(t *testing.T) {
	_, _, err := BuildEnv(Env{Secrets: []resolve.Secret{secret("TOKEN", canary, true)}, Override: true})
	if !errors.Is(err, ErrFiles) {
		t.Fatalf("got %v; want an ErrFiles", err)
	}
	noCanary(t, err)

	env, files, err := BuildEnv(Env{Secrets: []resolve.Secret{secret("PLAIN", "p", false)}, Override: true})
	if err != nil || len(files) != 0 || !slices.Equal(env, []string{"PLAIN=p"}) {
		t.Errorf("no sensitive value, no dir: got %q, %d files, %v; want [PLAIN=p], 0 files, nil", env, len(files), err)
	}
}

// One environment string longer than the kernel's MAX_ARG_STRLEN makes
// execve fail with E2BIG: BuildEnv names the variable instead.
func TestBuildEnvStringLimit(t *testing.T) {
	fits := strings.Repeat("x", maxEnvString-len("BIG=")-1)
	big := canary + fits
	for _, tt := range []struct {
		name    string
		secrets []resolve.Secret
		wantErr bool
	}{
		{"at the limit", []resolve.Secret{secret("BIG", fits, false)}, false},
		{"over the limit", []resolve.Secret{secret("BIG", big, false)}, true},
		{"over the limit but sensitive", []resolve.Secret{secret("BIG", big, true)}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := BuildEnv(Env{Secrets: tt.secrets, Override: true, Dir: "/run/secrets"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v; want error %v", err, tt.wantErr)
			}
			if err != nil {
				noCanary(t, err)
				if !errors.Is(err, resolve.ErrData) || !strings.Contains(err.Error(), "$svc-abc/BIG") {
					t.Errorf("got %v; want a data error naming $svc-abc/BIG", err)
				}
			}
		})
	}
	// A container's own variable is the container's business: the kernel
	// let it in once already.
	if _, _, err := BuildEnv(Env{Container: []string{"HUGE=" + fits + "xx"}, Override: true}); err != nil {
		t.Errorf("container variable: got %v; want no error", err)
	}
}

// ENVINIT_USER's home replaces the container's HOME, which is the user's
// envinit started as; a HOME from the store is a secret like any other.
func TestBuildEnvHome(t *testing.T) {
	container := []string{"A=1", "HOME=/root", "Z=2"}
	for _, tt := range []struct {
		name     string
		home     string
		secrets  []resolve.Secret
		override bool
		want     string
	}{
		{"the user's home", "/home/app", nil, true, "A=1 HOME=/home/app Z=2"},
		{"no user", "", nil, true, "A=1 HOME=/root Z=2"},
		{"the store's HOME wins", "/home/app", []resolve.Secret{secret("HOME", "/srv", false)}, true, "A=1 HOME=/srv Z=2"},
		{"without override the user's home stays", "/home/app", []resolve.Secret{secret("HOME", "/srv", false)}, false, "A=1 HOME=/home/app Z=2"},
	} {
		env, _, err := BuildEnv(Env{Container: container, Secrets: tt.secrets, Override: tt.override, Home: tt.home})
		if got := strings.Join(env, " "); err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
