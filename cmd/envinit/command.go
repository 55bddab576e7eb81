package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/envinit/envinit/internal/cli"
)

// command is one subcommand of the table: internal/cli parses, helps and
// completes every entry alike, and its Run gets the invocation.
type command = cli.Command[*invocation]

// flagSpec is a flag of one command.
type flagSpec = cli.Flag

// commands is every subcommand. The exec form is execCommand.
var commands []*command

func init() {
	commands = []*command{cmdRender, cmdCheck, cmdFingerprint, cmdSecrets, cmdDockerBuild, cmdInstall, cmdCompletion, cmdVersion, cmdHelp}
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
			cli.PrintUsage(inv.stdout, execCommand, commands)
			return nil
		}
		cmd, rest, err := lookup(inv.args)
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return usagef(inv.cmd, "%s has no action %q", cmd.Name, rest[0])
		}
		cli.PrintHelp(inv.stdout, cmd)
		return nil
	},
}

// run dispatches a command line. The exec form returns only on failure.
func (a *app) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		cli.PrintUsage(a.stderr, execCommand, commands)
		return cli.Usagef("", "no command: envinit [flags] -- COMMAND [ARG...]")
	}
	switch args[0] {
	case "-h", "-help", "--help":
		cli.PrintUsage(a.stdout, execCommand, commands)
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
func lookup(args []string) (*command, []string, error) { return cli.Lookup(commands, args) }

// runCommand parses args for cmd and runs it; --help prints its help.
func (a *app) runCommand(ctx context.Context, cmd *command, args []string) error {
	inv, err := parse(a, cmd, args)
	if errors.Is(err, flag.ErrHelp) {
		cli.PrintHelp(a.stdout, cmd)
		return nil
	}
	if err != nil {
		return err
	}
	if cmd.Run == nil {
		cli.PrintHelp(a.stderr, cmd)
		return usagef(cmd, "no action: want one of %s", strings.Join(cli.Names(cmd.Commands), ", "))
	}
	return cmd.Run(ctx, inv)
}

// usagef is a usage error of cmd (exit 64).
func usagef(cmd *command, format string, args ...any) error {
	return cli.Usagef(cmd.Name, format, args...)
}

// plural says "1 variable", "2 variables".
func plural(n int, what string) string { return cli.Plural(n, what) }
