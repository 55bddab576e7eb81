// Package cli is envinit's command line, written once for every
// subcommand: a command table in the shape of the Go command's own
// cmd/go/internal/base.Command (Name, UsageLine, Short, Long, flags, Run),
// one parser that takes every flag as a raw string and never quotes a
// value in an error, one help printer, the closest name suggested for an
// unknown one, errors printed as "envinit: " lines with their hints, and
// the shell completion scripts, generated from the same table.
//
// The table itself, the settings and what each command does live in
// cmd/envinit; this package knows nothing of them. A command's Run takes
// the program's own invocation type, T.
package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Prog is the program's name, as messages, help and completion say it.
const Prog = "envinit"

// Command is one subcommand, or an action of one (secrets set). A new
// action or flag is a table entry: parsing, help and completion follow.
type Command[T any] struct {
	Name      string // as typed after "envinit": "render", "secrets set"; "" for the exec form
	UsageLine string // the synopsis after "envinit "
	Short     string // one line for envinit help
	Long      string // the help text: what it does, then examples
	// Settings are the ENVINIT_* settings it uses, each a flag of it too:
	// only those are flags of the command, and only those are read.
	Settings []*Flag
	Flags    []Flag // its own flags
	// MinArgs and MaxArgs (-1: any) bound the positional arguments
	// before -- (those after it are counted apart).
	MinArgs, MaxArgs int
	// Args are the only values of the first positional argument, when it
	// is a choice (completion SHELL).
	Args []string
	// FlagHint is added to an unknown-flag error.
	FlagHint string
	Run      func(ctx context.Context, inv T) error
	Commands []*Command[T] // actions (secrets ACTION); a command with actions has no Run
}

// Flag is a flag of a command: one of its own, or a setting.
type Flag struct {
	Name, Usage string
	Arg         string   // what the value is, in help: "FORMAT"; "" for a switch
	Values      []string // the only values it takes, when it is a choice
	Default     string
	Var         string // a setting's variable, ENVINIT_*; "" for a command's own flag
}

// IsSwitch reports whether the flag is a boolean, given alone or =false.
func (f *Flag) IsSwitch() bool { return f.Arg == "" }

// AllFlags returns the command's flags: the settings, then its own.
func (cmd *Command[T]) AllFlags() []*Flag {
	out := slices.Clone(cmd.Settings)
	for i := range cmd.Flags {
		out = append(out, &cmd.Flags[i])
	}
	return out
}

// AllNames is every flag name cmd takes, for suggestions.
func (cmd *Command[T]) AllNames() []string {
	var out []string
	for _, f := range cmd.AllFlags() {
		out = append(out, f.Name)
	}
	return out
}

// HasFlag reports whether name is one of the command's own flags.
func (cmd *Command[T]) HasFlag(name string) bool {
	return slices.ContainsFunc(cmd.Flags, func(f Flag) bool { return f.Name == name })
}

// Word is the command's last word: "set" for "secrets set".
func (cmd *Command[T]) Word() string { return cmd.Name[strings.LastIndexByte(cmd.Name, ' ')+1:] }

// Lookup finds the command args name, among cmds and their actions, and
// returns it with the arguments that follow its name.
func Lookup[T any](cmds []*Command[T], args []string) (*Command[T], []string, error) {
	cmd := find(cmds, args[0])
	if cmd == nil {
		return nil, nil, unknown("", "command", args[0], Names(cmds), "to start a command: "+Prog+" [flags] -- COMMAND")
	}
	args = args[1:]
	if cmd.Commands == nil {
		return cmd, args, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return cmd, args, nil // its own help, or no action: its Run is nil
	}
	if args[0] == "help" {
		return cmd, []string{"--help"}, nil
	}
	action := find(cmd.Commands, args[0])
	if action == nil {
		return nil, nil, unknown(cmd.Name, "action", args[0], Names(cmd.Commands), "")
	}
	return action, args[1:], nil
}

func find[T any](cmds []*Command[T], name string) *Command[T] {
	for _, c := range cmds {
		if c.Word() == name {
			return c
		}
	}
	return nil
}

// Names are the last words of cmds' names.
func Names[T any](cmds []*Command[T]) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Word())
	}
	return out
}

// unknown is the usage error for a name that is not a command or action,
// with the closest one suggested. The name is quoted: it is a word of the
// command line, not a flag's value.
func unknown(in, what, name string, known []string, hint string) error {
	e := &UsageError{Command: in, Msg: fmt.Sprintf("unknown %s %q", what, name)}
	if s := Closest(name, known); s != "" {
		e.More = append(e.More, fmt.Sprintf("did you mean %q?", s))
	} else {
		e.More = append(e.More, "want one of: "+strings.Join(known, ", "))
	}
	if hint != "" {
		e.More = append(e.More, hint)
	}
	return e
}

// Closest returns the known word nearest to s, if it is near enough to be
// what was meant.
func Closest(s string, known []string) string {
	best, bestDist := "", len(s)/2+1
	for _, k := range known {
		if d := distance(s, k); d < bestDist || d == bestDist && best == "" && strings.HasPrefix(k, s) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		for _, k := range known {
			if len(s) >= 2 && strings.HasPrefix(k, s) {
				return k
			}
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
