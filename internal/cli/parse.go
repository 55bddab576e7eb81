package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Line is one parsed command line.
type Line struct {
	Args []string // positional arguments before --
	Rest []string // what follows --
	Dash bool     // there was a --
	// Given holds the raw value of every flag given, settings included;
	// a setting is converted later, with its variable.
	Given map[string]string
}

// rawFlag is every flag's flag.Value: the raw string, converted later.
type rawFlag struct {
	value  string
	isBool bool
}

func (f *rawFlag) String() string     { return f.value }
func (f *rawFlag) Set(s string) error { f.value = s; return nil }
func (f *rawFlag) IsBoolFlag() bool   { return f.isBool }

// Parse parses a command line for cmd: flags and positional arguments may
// be mixed, everything after -- is Rest. Every flag is taken as a raw
// string and recorded with fs.Visit; the command's own switches and
// choices are checked here, the settings by their conversion. No error
// quotes a flag's value. -h and --help return flag.ErrHelp.
func Parse[T any](cmd *Command[T], args []string) (*Line, error) {
	fs := flag.NewFlagSet(Prog+" "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // its messages would echo values
	fs.Usage = func() {}
	flags := cmd.AllFlags()
	for _, f := range flags {
		fs.Var(&rawFlag{isBool: f.IsSwitch()}, f.Name, "")
	}
	isSwitch := func(name string) bool {
		return slices.ContainsFunc(flags, func(f *Flag) bool { return f.Name == name && f.IsSwitch() })
	}

	l := &Line{Given: map[string]string{}}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError(cmd, err)
		}
		rest := fs.Args()
		n := len(args) - len(rest)
		if n > 0 && args[n-1] == "--" {
			l.Rest, l.Dash = rest, true
			break
		}
		if len(rest) == 0 {
			break
		}
		// A switch given its value apart, --override false: the flag
		// package takes the switch alone and false as an argument.
		if n > 0 {
			if prev, name := args[n-1], strings.TrimLeft(args[n-1], "-"); strings.HasPrefix(prev, "-") && isSwitch(name) && !strings.Contains(prev, "=") &&
				(strings.EqualFold(rest[0], "true") || strings.EqualFold(rest[0], "false")) {
				return nil, Usagef(cmd.Name, "--%s takes its value after =: write --%s=%s", name, name, strings.ToLower(rest[0]))
			}
		}
		l.Args = append(l.Args, rest[0])
		args = rest[1:]
	}
	fs.Visit(func(f *flag.Flag) { l.Given[f.Name] = f.Value.String() })
	for _, f := range cmd.Flags {
		v, ok := l.Given[f.Name]
		if !ok {
			continue
		}
		if _, err := strconv.ParseBool(v); f.IsSwitch() && err != nil {
			return nil, Usagef(cmd.Name, "--%s: not a valid boolean (true or false)", f.Name)
		}
		if f.Values != nil && !slices.Contains(f.Values, v) {
			return nil, Usagef(cmd.Name, "--%s must be %s", f.Name, OrList(f.Values))
		}
	}
	if cmd.Args != nil && len(l.Args) > 0 && !slices.Contains(cmd.Args, l.Args[0]) {
		e := Usagef(cmd.Name, "%q is not one of %s", l.Args[0], OrList(cmd.Args))
		if s := Closest(l.Args[0], cmd.Args); s != "" {
			e.More = append(e.More, fmt.Sprintf("did you mean %q?", s))
		}
		return nil, e
	}
	if len(l.Args) < cmd.MinArgs || cmd.MaxArgs >= 0 && len(l.Args) > cmd.MaxArgs {
		// Arguments are counted, never printed: a value typed there by
		// mistake must not be echoed.
		return nil, Usagef(cmd.Name, "got %s; want %s", Plural(len(l.Args), "argument"), cmd.UsageLine)
	}
	return l, nil
}

// flagError is the flag package's error without the value it may quote,
// with the closest flag suggested for an unknown one.
func flagError[T any](cmd *Command[T], err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		e := &UsageError{Command: cmd.Name, Msg: "unknown flag --" + name}
		if s := Closest(name, cmd.AllNames()); s != "" {
			e.More = append(e.More, "did you mean --"+s+"?")
		}
		if cmd.FlagHint != "" {
			e.More = append(e.More, cmd.FlagHint)
		}
		return e
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return Usagef(cmd.Name, "--%s needs a value", name)
	}
	// "bad flag syntax: ---x" and anything else: the text may be a value.
	return Usagef(cmd.Name, "bad flag syntax")
}

// OrList says "a, b or c".
func OrList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Plural says "1 argument", "2 arguments".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
