package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one subcommand, in the shape of the Go command's own
// cmd/go/internal/base.Command: flag parsing, help and the scrubbing of
// flag errors are written once, for every entry of the table: a new
// action or flag is a table entry, and help and completion follow it.
type command struct {
	Name      string // as typed after "envinit": "render", "secrets set"; "" for the exec form
	UsageLine string // the synopsis after "envinit "
	Short     string // one line for envinit help
	Long      string // the help text: what it does, then examples
	// Settings are the ENVINIT_* settings it uses, by flag name: only
	// those are flags of the command, and only those are read and checked.
	Settings []string
	Flags    []flagSpec // its own flags
	// Args says what positional arguments mean, for messages; MinArgs and
	// MaxArgs (-1: any) bound them (those after -- are counted apart).
	MinArgs, MaxArgs int
	// FlagHint is added to an unknown-flag error.
	FlagHint string
	Run      func(ctx context.Context, inv *invocation) error
	Commands []*command // actions (secrets ACTION); a command with actions has no Run
}

// flagSpec is a flag of one command.
type flagSpec struct {
	Name, Usage string
	Arg         string   // what the value is, in help: "FORMAT"; "" for a switch
	Values      []string // the only values it takes, when it is a choice
	Default     string
}

// commands is every subcommand. The exec form is execCommand.
var commands []*command

func init() {
	commands = []*command{cmdRender, cmdCheck, cmdFingerprint, cmdSecrets, cmdDockerBuild, cmdInstall, cmdVersion, cmdHelp}
}

var cmdVersion = &command{
	Name: "version", UsageLine: "version", Short: "print the version",
	Long: `Prints the version: the one stamped at build time (-ldflags "-X main.version=v1.2.3"),
else the module version go install recorded, else the commit. A release
build (scripts/build) also stamps its commit, printed after the version.

examples:
  envinit version
  envinit --version`,
	Run: func(_ context.Context, inv *invocation) error {
		v := versionString()
		if commit != "" {
			v += " (" + commit + ")"
		}
		_, err := fmt.Fprintf(inv.stdout, "envinit %s\n", v)
		return err
	},
}

var cmdHelp = &command{
	Name: "help", UsageLine: "help [COMMAND [ACTION]]", Short: "show the usage, or a command's",
	Long: `Prints the usage of envinit, or of COMMAND, on stdout.

examples:
  envinit help
  envinit help render
  envinit help secrets set`,
	MaxArgs: 2,
	Run: func(_ context.Context, inv *invocation) error {
		if len(inv.args) == 0 {
			printUsage(inv.stdout)
			return nil
		}
		cmd, rest, err := lookup(inv.args)
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return usagef(inv.cmd, "%s has no action %q", cmd.Name, rest[0])
		}
		printHelp(inv.stdout, cmd)
		return nil
	},
}

// run dispatches a command line. The exec form returns only on failure.
func (a *app) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		printUsage(a.stderr)
		return &usageError{msg: "no command: envinit [flags] -- COMMAND [ARG...]"}
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printUsage(a.stdout)
		return nil
	case "-v", "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	if strings.HasPrefix(args[0], "-") {
		return a.runCommand(ctx, execCommand, args)
	}
	cmd, rest, err := lookup(args)
	if err != nil {
		return err
	}
	return a.runCommand(ctx, cmd, rest)
}

// lookup finds the command args name and returns it with the arguments
// that follow its name.
func lookup(args []string) (*command, []string, error) {
	cmd := find(commands, args[0])
	if cmd == nil {
		return nil, nil, unknown(nil, "command", args[0], names(commands),
			"to start a command: envinit [flags] -- COMMAND")
	}
	args = args[1:]
	if cmd.Commands == nil {
		return cmd, args, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return cmd, args, nil // its own help, or no action: runCommand says which
	}
	if args[0] == "help" {
		return cmd, []string{"--help"}, nil
	}
	action := find(cmd.Commands, args[0])
	if action == nil {
		return nil, nil, unknown(cmd, "action", args[0], names(cmd.Commands), "")
	}
	return action, args[1:], nil
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.Name == name || strings.HasSuffix(c.Name, " "+name) {
			return c
		}
	}
	return nil
}

func names(cmds []*command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Name[strings.LastIndexByte(c.Name, ' ')+1:])
	}
	return out
}

// unknown is the usage error for a name that is not a command or action,
// with the closest one suggested. The name is quoted: it is a word of the
// command line, not a flag's value.
func unknown(in *command, what, name string, known []string, hint string) error {
	e := &usageError{cmd: in, msg: fmt.Sprintf("unknown %s %q", what, name)}
	if s := closest(name, known); s != "" {
		e.hints = append(e.hints, fmt.Sprintf("did you mean %q?", s))
	} else {
		e.hints = append(e.hints, "want one of: "+strings.Join(known, ", "))
	}
	if hint != "" {
		e.hints = append(e.hints, hint)
	}
	return e
}

// runCommand parses args for cmd and runs it; --help prints its help.
func (a *app) runCommand(ctx context.Context, cmd *command, args []string) error {
	inv, err := parse(a, cmd, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(a.stdout, cmd)
		return nil
	}
	if err != nil {
		return err
	}
	if cmd.Run == nil {
		printHelp(a.stderr, cmd)
		return usagef(cmd, "no action: want one of %s", strings.Join(names(cmd.Commands), ", "))
	}
	return cmd.Run(ctx, inv)
}

// synopsisWidth is the column help's one-line descriptions start at; a
// longer synopsis has its description on the next line.
const synopsisWidth = 42

// synopsis writes one "  SYNOPSIS  DESCRIPTION" line of help.
func synopsis(b *strings.Builder, left, short string) {
	if len(left) >= synopsisWidth {
		fmt.Fprintf(b, "  %s\n  %*s%s\n", left, synopsisWidth, "", short)
		return
	}
	fmt.Fprintf(b, "  %-*s%s\n", synopsisWidth, left, short)
}

// printUsage prints envinit's usage: the commands and the settings.
func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage:\n")
	synopsis(&b, "envinit [flags] -- COMMAND [ARG...]", "resolve the service's secrets, then exec COMMAND")
	for _, c := range commands {
		synopsis(&b, "envinit "+c.UsageLine, c.Short)
	}
	b.WriteString("\n'envinit COMMAND --help' (or 'envinit help COMMAND') shows a command's flags and examples.\n\n")
	b.WriteString("settings (each an ENVINIT_* variable, and a flag of the commands that use it; a flag wins):\n")
	printFlags(&b, execCommand)
	io.WriteString(w, b.String())
}

// printHelp prints a command's help: synopsis, text, actions, flags.
func printHelp(w io.Writer, cmd *command) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: envinit %s\n\n%s\n", cmd.UsageLine, cmd.Long)
	if len(cmd.Commands) > 0 {
		b.WriteString("\nactions:\n")
		for _, c := range cmd.Commands {
			synopsis(&b, strings.TrimPrefix(c.UsageLine, cmd.Name+" "), c.Short)
		}
		fmt.Fprintf(&b, "\n'envinit %s ACTION --help' shows an action's flags and examples.\n", cmd.Name)
	}
	if len(cmd.Settings)+len(cmd.Flags) > 0 {
		b.WriteString("\nflags:\n")
		printFlags(&b, cmd)
	}
	io.WriteString(w, b.String())
}

// printFlags lists cmd's own flags, then the settings it uses with their
// variables and defaults.
func printFlags(b *strings.Builder, cmd *command) {
	line := func(name, arg, usage string) {
		left := "--" + name
		if arg != "" {
			left += " " + arg
		}
		fmt.Fprintf(b, "  %-24s %s\n", left, usage)
	}
	for _, f := range cmd.Flags {
		usage := f.Usage
		if f.Default != "" {
			usage += " (default " + f.Default + ")"
		}
		line(f.Name, f.Arg, usage)
	}
	for _, name := range cmd.Settings {
		s := settingNamed(name)
		usage := s.Usage + "; " + s.Var
		if s.Default != "" {
			usage += ", default " + s.Default
		}
		line(s.Flag, s.Arg, usage)
	}
}

// closest returns the known word nearest to s, if it is near enough to be
// what was meant.
func closest(s string, known []string) string {
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

// allNames is every flag name cmd takes, for suggestions.
func (cmd *command) allNames() []string {
	out := slices.Clone(cmd.Settings)
	for _, f := range cmd.Flags {
		out = append(out, f.Name)
	}
	return out
}
