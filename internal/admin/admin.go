// Package admin is what the operator tools do with the store: envinit
// secrets (set, unset, import, import-from, copy; get, list, find,
// export) and envinit fingerprint, over a narrow Store (fetch.Writer, a
// read-only fetch.File or fetch.SSM for the reads, or a fake in tests).
//
// Every write reads the whole environment under the prefix, applies the
// change in memory (impact.Apply, with the entrypoint's own resolver), and
// refuses it with a *RefusedError (exit 65), nothing written, when it would
// make any service's next start fail or would store what no start can
// take; Options.Force writes it anyway and the Result says what it broke.
// The writes then go in the plan's safe order, which never leaves a
// sensitive value unlisted. Each operation returns a result that main
// prints. No result and no error holds a value, except Get's and Export's,
// which were asked for.
//
// The README's Operator tools section is the manual.
package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/resolve"
)

// Reader is what the read-only tools need of the store: the whole
// environment under the prefix (fetch.SSM, fetch.File, fetch.Writer).
type Reader interface {
	Environment(ctx context.Context, progress func(fetch.Progress)) (*fetch.Environment, error)
}

// Store is what the write tools need: the environment, and a put and a
// delete of one parameter by its full name (fetch.Name).
type Store interface {
	Reader
	// Put stores value as the parameter name, encrypted with kmsKeyID
	// ("": the account's default key).
	Put(ctx context.Context, name string, value resolve.Value, kmsKeyID string) error
	Delete(ctx context.Context, name string) error
}

// ErrUsage is matched by the errors that are the command line's fault
// (exit 64): an argument or a combination of flags that cannot be right.
var ErrUsage = errors.New("bad command line")

// UsageError is a bad argument. It never quotes one: a value typed on the
// command line by mistake must not be echoed.
type UsageError struct{ Reason string }

func (e *UsageError) Error() string        { return e.Reason }
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// Target is what an action works on: a service, or the globals.
type Target struct {
	Global bool
	Alias  string
}

// ParseTarget checks a SERVICE argument.
func ParseTarget(alias string) (Target, error) {
	if !resolve.ValidAlias(alias) {
		return Target{}, &UsageError{fmt.Sprintf("%q is not a service alias: write it as ENVINIT_SERVICE takes it, e.g. svc-abc (no $)", alias)}
	}
	return Target{Alias: alias}, nil
}

// Ref names key in the notation of references and errors: $alias/KEY or $/KEY.
func (t Target) Ref(key string) string { return "$" + t.Alias + "/" + key }

func (t Target) String() string {
	if t.Global {
		return "the globals"
	}
	return "$" + t.Alias
}

// owner is the target as impact names it.
func (t Target) owner() string {
	if t.Global {
		return impact.Global
	}
	return t.Alias
}

// listCommand is the command that lists t's keys.
func (t Target) listCommand() string {
	if t.Global {
		return "envinit secrets list --global"
	}
	return "envinit secrets list " + t.Alias
}

// CheckKeyArg refuses a KEY argument to set that is not a valid name,
// without quoting it: "KEY=VALUE" is a value typed on the command line.
func CheckKeyArg(key string) error {
	if err := CheckNameArg(key); err != nil {
		return err
	}
	if !dotenv.ValidName(key) {
		return &UsageError{"KEY is not a valid name ([A-Za-z_][A-Za-z0-9_]*)"}
	}
	return nil
}

// CheckNameArg refuses a KEY argument to get, unset or find that cannot
// be a stored key's name. Those take any name a parameter can have, valid
// key or not (MY-KEY, as another tool may write): SSM allows letters,
// digits, "_", "." and "-" in a segment. It does not quote the argument.
func CheckNameArg(key string) error {
	switch {
	case strings.Contains(key, "="):
		return &UsageError{"KEY=VALUE: the value is never taken from the command line (shell history and ps keep it): give KEY alone and pipe the value on stdin, or run at a terminal to be prompted"}
	case key == "" || strings.Trim(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != "":
		return &UsageError{"KEY is not a valid name: a parameter's last segment holds only letters, digits, _ . and - (a full name goes after --name)"}
	}
	return nil
}

// read reads the environment and its snapshot.
func read(ctx context.Context, rd Reader) (*fetch.Environment, *impact.Env, error) {
	env, err := rd.Environment(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	return env, impact.FromStore(env), nil
}

// noKey is the error for a key the target does not have.
func noKey(t Target, e *impact.Env, key string) error {
	if !t.Global && len(e.Keys(t.Alias)) == 0 {
		return &resolve.NoSecretsError{Alias: t.Alias}
	}
	return &resolve.KeyError{Where: t.String(), Key: key, Reason: "no such key (" + t.listCommand() + " shows the keys)"}
}

// listed reports whether owner's __sensitive lists key.
func listed(e *impact.Env, owner, key string) bool {
	p, _ := e.Get(owner, resolve.SensitiveKey)
	for _, k := range resolve.SplitList(p.Value.Reveal()) {
		if k == key {
			return true
		}
	}
	return false
}

// shellWord quotes s for a shell when it needs it: names in hints are
// copied into commands.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
