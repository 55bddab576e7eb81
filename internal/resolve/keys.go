package resolve

import (
	"sort"
	"strings"
)

// Special keys (the README's Store layout): never exported, and the only keys starting "__".
const (
	ImportKey    = "__import_svc"
	SensitiveKey = "__sensitive"
)

func isSpecial(k string) bool { return strings.HasPrefix(k, "__") }

// forbidden lists the names the store may not set, each with the reason
// the README repeats. A secret store is a remote input: it must not be
// able to change how the loader, libc or a shell start COMMAND.
var forbidden = map[string]string{
	// glibc drops these for set-uid programs (elf/unsecvars.h) because
	// each one redirects a file or library it loads.
	"GCONV_PATH":       "glibc loads character-conversion modules from it",
	"GETCONF_DIR":      "glibc reads getconf specifications from it",
	"GLIBC_TUNABLES":   "glibc tunables change the allocator and loader at start-up",
	"HOSTALIASES":      "redirects name resolution",
	"LOCALDOMAIN":      "changes the resolver's search domains",
	"LOCPATH":          "glibc loads locale data from it",
	"MALLOC_TRACE":     "makes glibc's malloc write a trace to a file",
	"NIS_PATH":         "changes NIS+ lookups",
	"NLSPATH":          "glibc loads message catalogs from it",
	"RESOLV_HOST_CONF": "redirects the resolver's configuration file",
	"RES_OPTIONS":      "changes the resolver's options",
	"TMPDIR":           "redirects where programs create temporary files",
	"TZDIR":            "glibc loads time-zone files from it",
	// Shell start-up hooks: a shell anywhere in COMMAND's tree would run
	// or reinterpret them.
	"BASH_ENV":       "bash runs the file it names at start-up",
	"ENV":            "sh runs the file it names at start-up",
	"IFS":            "changes how a shell splits words",
	"CDPATH":         "changes what a shell's cd resolves to",
	"SHELLOPTS":      "turns on bash options such as xtrace at start-up",
	"BASHOPTS":       "turns on bash options at start-up",
	"PS4":            "bash expands it, running command substitutions, under xtrace",
	"PROMPT_COMMAND": "bash runs it before each prompt",
}

// ForbiddenKeys returns the names the store may not set, with reasons,
// sorted; every ENVINIT_* and LD_* name is forbidden too.
func ForbiddenKeys() [][2]string {
	out := make([][2]string, 0, len(forbidden))
	for k, why := range forbidden {
		out = append(out, [2]string{k, why})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// checkKey returns why a key the store exports is refused, or "".
func checkKey(k string) string {
	switch {
	case !validKey(k):
		return "not a valid name ([A-Za-z_][A-Za-z0-9_]*)"
	case strings.HasPrefix(k, "ENVINIT_"):
		return "ENVINIT_* configures envinit itself and cannot come from the store"
	case strings.HasPrefix(k, "LD_"):
		return "LD_* variables steer the dynamic loader"
	}
	if why, ok := forbidden[k]; ok {
		return why
	}
	return ""
}

// checkValue returns why a final value is refused, or "".
func checkValue(v string) string {
	if strings.HasPrefix(v, "() {") {
		return `value starts with "() {", an exported shell function`
	}
	return ""
}

// splitList splits a special key's value on commas and white space.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}
