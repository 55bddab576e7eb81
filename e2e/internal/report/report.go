// Package report is what the probe prints (`probe report`) and what the
// e2e harness decodes: one type for both ends of that contract.
package report

// Report describes the probe process as COMMAND saw its start.
type Report struct {
	PID  int `json:"pid"`
	PPID int `json:"ppid"`
	UID  int `json:"uid"`
	GID  int `json:"gid"`
	EUID int `json:"euid"` // not UID when a setuid binary raised it
	// NoNewPrivs is /proc/self/status's NoNewPrivs: "1" when no execve can
	// raise the process's privileges.
	NoNewPrivs string            `json:"no_new_privs"`
	Groups     []int             `json:"groups"`
	Args       []string          `json:"args"`
	Env        map[string]string `json:"env"`
	Environ    []string          `json:"environ"`
	// Files describes every path named by a variable ending in _FILE.
	Files map[string]File `json:"files"`
	// SigBlk and SigIgn are the blocked and ignored signal sets of
	// /proc/self/status, as hex masks (bit n-1 for signal n). The probe is
	// a Go program: its runtime unblocks the signals it must handle
	// (SIGHUP, SIGINT, SIGTERM, SIGQUIT, the synchronous ones) and takes
	// over every disposition but an inherited SIG_IGN of SIGHUP and SIGINT
	// before main runs, so these show what it inherited only for the
	// other blocked signals and for those two ignored ones. A C program
	// (cat /proc/self/status) shows the rest.
	SigBlk string `json:"sigblk"`
	SigIgn string `json:"sigign"`
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
