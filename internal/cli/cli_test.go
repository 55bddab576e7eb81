package cli

import (
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

type inv struct{}

var testCmd = &Command[inv]{
	Name: "tool", UsageLine: "tool [flags] SHELL",
	Settings: []*Flag{{Name: "timeout", Arg: "DURATION", Var: "X_TIMEOUT"}, {Name: "override", Var: "X_OVERRIDE"}},
	Flags:    []Flag{{Name: "format", Arg: "FORMAT", Values: []string{"text", "json"}}, {Name: "all"}},
	Args:     []string{"bash", "zsh"}, MinArgs: 1, MaxArgs: 1,
	Run: func(context.Context, inv) error { return nil },
}

// Parse takes every flag raw, checks the command's own switches, choices
// and arguments, and never quotes a flag's value in an error.
func TestParse(t *testing.T) {
	l, err := Parse(testCmd, []string{"--timeout=SECRET", "bash", "--all", "--", "x", "--y"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Args, []string{"bash"}) || !slices.Equal(l.Rest, []string{"x", "--y"}) || !l.Dash ||
		l.Given["timeout"] != "SECRET" || l.Given["all"] != "true" {
		t.Errorf("got %+v; want the argument, the rest after --, and the raw flags", l)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--format=SECRET", "bash"}, "--format must be text or json"},
		{[]string{"--all=SECRET", "bash"}, "--all: not a valid boolean"},
		{[]string{"--formt", "json", "bash"}, "did you mean --format?"},
		{[]string{"--override", "false", "bash"}, "write --override=false"},
		{[]string{"--timeout"}, "--timeout needs a value"},
		{[]string{"bsh"}, `did you mean "bash"?`},
		{[]string{"bash", "SECRET"}, "got 2 arguments; want tool [flags] SHELL"},
	} {
		_, err := Parse(testCmd, tt.args)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error()+strings.Join(ue.Hints(), " "), tt.want) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Parse(%q) = %v; want a usage error saying %q, without the value", tt.args, err, tt.want)
		}
	}
	if _, err := Parse(testCmd, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Parse(-h) = %v; want flag.ErrHelp", err)
	}
}

func TestClosest(t *testing.T) {
	for _, tt := range []struct{ s, want string }{{"rendr", "render"}, {"sec", "secrets"}, {"zzz", ""}, {"chek", "check"}} {
		if got := Closest(tt.s, []string{"render", "check", "secrets"}); got != tt.want {
			t.Errorf("Closest(%q) = %q; want %q", tt.s, got, tt.want)
		}
	}
}

func TestWriteCompletionRefusesAnotherShell(t *testing.T) {
	var b strings.Builder
	if err := WriteCompletion(&b, "tcsh", testCmd, []*Command[inv]{testCmd}); err == nil || b.Len() > 0 {
		t.Errorf("WriteCompletion(tcsh) = %v, wrote %d bytes; want an error and nothing written", err, b.Len())
	}
}
