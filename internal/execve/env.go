package execve

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// ConflictError is a sensitive key whose KEY_FILE variable is also set by
// the store or by a resolved container variable: envinit would have to
// overwrite one of them.
type ConflictError struct {
	Key, KeyFrom   string // the sensitive key and where it came from
	File, FileFrom string // KEY_FILE and where it came from
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s is sensitive, so %s must hold its file's path, but %s sets %s too; rename or remove one of them",
		where(e.KeyFrom, e.Key), e.File, where(e.FileFrom, e.File), e.File)
}

func (e *ConflictError) Is(target error) bool { return target == resolve.ErrData }

// where names a variable the way the resolver's errors do.
func where(origin, key string) string {
	if origin == resolve.OriginEnv {
		return "env " + key
	}
	return "$" + origin + "/" + key
}

// maxEnvString is Linux's MAX_ARG_STRLEN: the most bytes one argument or
// environment string may have, its terminating NUL included.
const maxEnvString = 32 * 4096

type variable struct {
	value     resolve.Value
	sensitive bool
	origin    string // "" for a container variable as it was, else resolve.Secret.Origin
	container bool   // the container set this name (as it was, or with references resolved)
}

// Env is what BuildEnv builds COMMAND's environment from.
type Env struct {
	// Container is the container's environment, os.Environ(), read by
	// resolve.ContainerEnv: ENVINIT_* names, entries without "=" and empty
	// names are dropped; of duplicate names the first wins.
	Container []string
	// Refs are container variables whose references the resolver
	// resolved (Origin "env"): each replaces the container's value.
	Refs []resolve.Secret
	// Secrets are the service's resolved secrets. With Override they
	// replace container variables of the same name; without it a name the
	// container sets wins.
	Secrets  []resolve.Secret
	Override bool
	// Dir is the secrets directory; it must be set when a file is needed.
	Dir string
	// Home is the home directory of ENVINIT_USER, "" when there is none.
	// It replaces the container's HOME, which belongs to the user envinit
	// started as, as gosu and docker run --user do; a HOME from the store
	// is a secret like any other.
	Home string
}

// BuildEnv returns COMMAND's environment (the README's Environment of
// COMMAND), as sorted "NAME=value" strings with one entry per name, and the
// sensitive values to write to files, sorted by Key. It is pure.
//
// A sensitive variable, from Refs or Secrets, is never in the
// environment: it becomes a File and KEY_FILE={Dir}/KEY, replacing a
// container KEY_FILE. Without Override, a sensitive secret whose KEY or
// KEY_FILE the container already sets is left out entirely, file included:
// the container's own choice of where to read KEY from wins.
//
// A sensitive KEY whose KEY_FILE is also a secret or a resolved container
// variable is a *ConflictError (resolve.ErrData): neither value may silently
// replace the other. A sensitive KEY whose KEY_FILE would be an ENVINIT_* or
// LD_* name (KEY is ENVINIT or LD) is a *resolve.ValueError.
func BuildEnv(e Env) ([]string, []File, error) {
	vars := make(map[string]variable, len(e.Container)+len(e.Secrets)+1)
	for _, v := range resolve.ContainerEnv(e.Container) {
		vars[v.Name] = variable{value: resolve.NewValue(v.Value), container: true}
	}
	for _, s := range e.Refs {
		vars[s.Key] = variable{value: s.Value, sensitive: s.Sensitive, origin: s.Origin, container: true}
	}
	if e.Home != "" {
		vars["HOME"] = variable{value: resolve.NewValue(e.Home), container: true}
	}
	for _, s := range e.Secrets {
		if !e.Override && (vars[s.Key].container || s.Sensitive && vars[s.Key+"_FILE"].container) {
			continue
		}
		vars[s.Key] = variable{value: s.Value, sensitive: s.Sensitive, origin: s.Origin}
	}

	names := slices.Sorted(maps.Keys(vars))
	values := make(map[string]string, len(vars))
	for _, name := range names {
		v := vars[name]
		if v.sensitive {
			continue
		}
		values[name] = v.value.Reveal()
		// execve refuses the whole environment (E2BIG) when one string is
		// longer than a page-sized limit: say which variable, before any
		// file is written, rather than fail at the exec.
		if v.origin != "" && len(name)+1+len(values[name])+1 > maxEnvString {
			return nil, nil, &resolve.ValueError{Where: where(v.origin, name),
				Reason: fmt.Sprintf("NAME=value is longer than the %d KiB the kernel takes for one environment string; mark it sensitive to pass it as a file", maxEnvString>>10)}
		}
	}
	var files []File
	for _, name := range names {
		v := vars[name]
		if !v.sensitive {
			continue
		}
		fileVar := name + "_FILE"
		// A key the store may set can still make a name it may not: a
		// sensitive ENVINIT or LD would hand COMMAND ENVINIT_FILE or
		// LD_FILE.
		if strings.HasPrefix(fileVar, "ENVINIT_") || strings.HasPrefix(fileVar, "LD_") {
			return nil, nil, &resolve.ValueError{Where: where(v.origin, name),
				Reason: fmt.Sprintf("sensitive, so its file's path would go in %s, but ENVINIT_* and LD_* names are never passed to COMMAND; rename the key", fileVar)}
		}
		if f, ok := vars[fileVar]; ok && !f.sensitive && f.origin != "" {
			return nil, nil, &ConflictError{Key: name, KeyFrom: v.origin, File: fileVar, FileFrom: f.origin}
		}
		if e.Dir == "" {
			return nil, nil, &FilesError{Path: name, Reason: "sensitive, but no secrets directory was chosen"}
		}
		values[fileVar] = filepath.Join(e.Dir, name)
		files = append(files, File{Key: name, Value: v.value})
	}

	env := make([]string, 0, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		env = append(env, name+"="+values[name])
	}
	return env, files, nil
}
