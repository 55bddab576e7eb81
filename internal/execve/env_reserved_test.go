package execve

import (
	"errors"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

// A sensitive key the store may set can still make a name it may not: a
// sensitive ENVINIT or LD would hand COMMAND ENVINIT_FILE or LD_FILE. That
// is a data error naming the key, never a value; override or not.
func TestBuildEnvReservedFileName(t *testing.T) {
	for _, tt := range []struct {
		name             string
		envRefs, secrets []resolve.Secret
	}{
		{"a sensitive secret ENVINIT", nil, []resolve.Secret{secret("ENVINIT", canary, true)}},
		{"a sensitive secret LD", nil, []resolve.Secret{secret("LD", canary, true)}},
		{"a container LD_PRELOAD that references a sensitive value", []resolve.Secret{envRef("LD_PRELOAD", canary, true)}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, override := range []bool{true, false} {
				env, files, err := BuildEnv(Env{Refs: tt.envRefs, Secrets: tt.secrets, Override: override, Dir: "/run/secrets"})
				var ve *resolve.ValueError
				if !errors.As(err, &ve) || !errors.Is(err, resolve.ErrData) {
					t.Fatalf("override=%v: got %v, %q, %d files; want a *resolve.ValueError", override, err, env, len(files))
				}
				noCanary(t, err)
			}
		})
	}
	// Not sensitive, they are plain variables: ENVINIT and LD are not
	// reserved names themselves.
	env, _, err := BuildEnv(Env{Secrets: []resolve.Secret{secret("ENVINIT", "e", false), secret("LD", "l", false)}, Override: true, Dir: "/run/secrets"})
	if err != nil || len(env) != 2 {
		t.Errorf("plain ENVINIT and LD: got %q, %v; want both in the environment", env, err)
	}
}
