package cli

import (
	"fmt"
	"io"
	"strings"
)

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

// PrintUsage prints the program's usage: the exec form, the commands, and
// the settings (the exec form's).
func PrintUsage[T any](w io.Writer, exec *Command[T], cmds []*Command[T]) {
	var b strings.Builder
	b.WriteString("usage:\n")
	synopsis(&b, Prog+" "+exec.UsageLine, exec.Short)
	for _, c := range cmds {
		synopsis(&b, Prog+" "+c.UsageLine, c.Short)
	}
	fmt.Fprintf(&b, "\n'%s COMMAND --help' (or '%s help COMMAND') shows a command's flags and examples.\n\n", Prog, Prog)
	b.WriteString("settings (each an ENVINIT_* variable, and a flag of the commands that use it; a flag wins):\n")
	printFlags(&b, exec)
	io.WriteString(w, b.String())
}

// PrintHelp prints a command's help: synopsis, text, actions, flags.
func PrintHelp[T any](w io.Writer, cmd *Command[T]) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s %s\n\n%s\n", Prog, cmd.UsageLine, cmd.Long)
	if len(cmd.Commands) > 0 {
		b.WriteString("\nactions:\n")
		for _, c := range cmd.Commands {
			synopsis(&b, strings.TrimPrefix(c.UsageLine, cmd.Name+" "), c.Short)
		}
		fmt.Fprintf(&b, "\n'%s %s ACTION --help' shows an action's flags and examples.\n", Prog, cmd.Name)
	}
	if len(cmd.Settings)+len(cmd.Flags) > 0 {
		b.WriteString("\nflags:\n")
		printFlags(&b, cmd)
	}
	io.WriteString(w, b.String())
}

// printFlags lists cmd's own flags, then the settings it uses with their
// variables and defaults.
func printFlags[T any](b *strings.Builder, cmd *Command[T]) {
	line := func(f *Flag, usage string) {
		left := "--" + f.Name
		if f.Arg != "" {
			left += " " + f.Arg
		}
		fmt.Fprintf(b, "  %-24s %s\n", left, usage)
	}
	for _, f := range cmd.Flags {
		usage := f.Usage
		if f.Default != "" {
			usage += " (default " + f.Default + ")"
		}
		line(&f, usage)
	}
	for _, s := range cmd.Settings {
		usage := s.Usage + "; " + s.Var
		if s.Default != "" {
			usage += ", default " + s.Default
		}
		line(s, usage)
	}
}
