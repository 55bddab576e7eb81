// Package buildinfo says which build the running binary is.
package buildinfo

import "runtime/debug"

// Version is stamped, the version stamped at build time (scripts/build:
// -ldflags "-X main.version=v1.2.3"), else the module version that go
// install recorded, else the commit the binary was built from, "dev-"
// and its first 12 hex digits, "-dirty" when the tree was.
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}
