// Package report is what the probe prints (`probe report`) and what the
// e2e harness decodes: one type for both ends of that contract.
package report

// Report describes the probe process as COMMAND saw its start.
type Report struct {
	PID     int               `json:"pid"`
	PPID    int               `json:"ppid"`
	UID     int               `json:"uid"`
	GID     int               `json:"gid"`
	Groups  []int             `json:"groups"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Environ []string          `json:"environ"`
	// Files describes every path named by a variable ending in _FILE.
	Files map[string]File `json:"files"`
}

// File describes one path as the probe found it.
type File struct {
	Type    string `json:"type"` // "file", "symlink", "dir", "other"
	Mode    string `json:"mode"` // permission bits, "0400"
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	Content string `json:"content,omitempty"`
	Error   string `json:"error,omitempty"`
}
