package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envinit/envinit/internal/cli"
)

// completion is one completion asked of a shell: the words of the command
// line, the last one the word under the cursor ("" after a space), and
// what it must offer: exactly want, or at least those of want when subset.
type completion struct {
	words  []string
	want   []string
	subset bool
}

// tableCompletions are the completions the command table implies, for
// every shell: each command and action, each command's flags, each flag
// value and argument that is a choice. A command, action, flag or value
// added to the table is checked here without an edit.
func tableCompletions() []completion {
	var out []completion
	flagNames := func(cmd *command) []string {
		var names []string
		for _, f := range cmd.AllFlags() {
			names = append(names, "--"+f.Name)
		}
		return append(names, "--help")
	}
	out = append(out, completion{words: []string{"envinit", ""}, want: cli.Names(commands)})
	out = append(out, completion{words: []string{"envinit", "--"}, want: append(flagNames(execCommand), "--version")})
	var visit func(path []string, cmd *command)
	visit = func(path []string, cmd *command) {
		line := append([]string{"envinit"}, path...)
		out = append(out, completion{words: append(slices.Clone(line), "--"), want: flagNames(cmd)})
		if len(cmd.Commands) > 0 {
			out = append(out, completion{words: append(slices.Clone(line), ""), want: cli.Names(cmd.Commands)})
		}
		if cmd.Args != nil {
			out = append(out, completion{words: append(slices.Clone(line), ""), want: cmd.Args})
		}
		for _, f := range cmd.AllFlags() {
			if f.Values != nil {
				out = append(out,
					completion{words: append(slices.Clone(line), "--"+f.Name, ""), want: f.Values},
					completion{words: append(slices.Clone(line), "--"+f.Name+"="), want: f.Values})
			}
		}
		for _, a := range cmd.Commands {
			visit(append(slices.Clone(path), a.Word()), a)
		}
	}
	for _, c := range commands {
		visit([]string{c.Name}, c)
	}
	return out
}

// moreCompletions are the cases the table does not spell out: a prefix,
// a flag's value given after =, help's arguments, a flag's value not taken
// for a command, an action only right after its command.
func moreCompletions() []completion {
	return []completion{
		{words: []string{"envinit", "sec"}, want: []string{"secrets"}},
		{words: []string{"envinit", "secrets", "im"}, want: []string{"import", "import-from"}},
		{words: []string{"envinit", "render", "--format=j"}, want: []string{"json"}},
		{words: []string{"envinit", "check", "api", "--format", "t"}, want: []string{"text"}},
		{words: []string{"envinit", "check", "--all", "--fo"}, want: []string{"--format"}},
		{words: []string{"envinit", "--timeout", "5s", "--se"}, want: []string{"--secrets-dir", "--service"}},
		{words: []string{"envinit", "help", ""}, want: cli.Names(commands)},
		{words: []string{"envinit", "help", "secrets", ""}, want: cli.Names(cmdSecrets.Commands)},
		{words: []string{"envinit", "help", "secrets", "set", ""}, want: nil},
		{words: []string{"envinit", "--service", "secrets", "se"}, want: nil}, // "secrets" is --service's value
		{words: []string{"envinit", "secrets", "--prefix", "/p", "se"}, want: nil},
		{words: []string{"envinit", "secrets", "export", "--global", "--format", ""}, want: []string{"dotenv", "json"}},
	}
}

// TestCompletionBash loads the bash script in a real bash, checks that it
// registers the function for envinit, and calls it as readline would:
// COMP_WORDS split at "=" and COMP_CWORD the word under the cursor.
func TestCompletionBash(t *testing.T) {
	bash := lookShell(t, "bash")
	script := completionScript(t, "bash")
	var calls strings.Builder
	fmt.Fprintf(&calls, "source %s || exit 1\ncomplete -p envinit\n", shQuote(script))
	calls.WriteString(`c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _envinit; printf '%s\n' "${COMPREPLY[*]}"; }` + "\n")
	cases := append(tableCompletions(), moreCompletions()...)
	cases = append(cases,
		completion{words: []string{"envinit", "--service", "api", "--", "ech"}, want: []string{"echo"}, subset: true},
		completion{words: []string{"envinit", "docker-build", "api", "--", "--f"}, want: nil}, // docker build's own flags: files
	)
	for _, c := range cases {
		calls.WriteString("c")
		for _, w := range bashWords(c.words) {
			calls.WriteString(" " + shQuote(w))
		}
		calls.WriteString("\n")
	}
	out := runShell(t, bash, []string{"--norc", "--noprofile", "-c", calls.String()})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(cases)+1 || lines[0] != "complete -o default -F _envinit envinit" {
		t.Fatalf("bash printed %d lines, the first %q; want complete -p's line, then one per case:\n%s", len(lines), lines[0], out)
	}
	for i, c := range cases {
		checkCompletion(t, "bash", c, strings.Fields(lines[i+1]))
	}
}

// bashWords splits words as readline does for bash: "--format=j" is
// three words, "--format", "=" and "j".
func bashWords(words []string) []string {
	var out []string
	for _, w := range words {
		if name, val, ok := strings.Cut(w, "="); ok && strings.HasPrefix(w, "--") {
			out = append(out, name, "=")
			if val != "" {
				out = append(out, val)
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// TestCompletionZsh loads the zsh script in a real zsh with the
// completion system's builtins replaced by functions that record what
// they are given, and completes each case with words and CURRENT set as
// the completion system sets them. zsh filters by the prefix itself: what
// the script offers is checked to include the completions, and to offer
// none of another kind.
func TestCompletionZsh(t *testing.T) {
	zsh := lookShell(t, "zsh")
	script := completionScript(t, "zsh")
	var calls strings.Builder
	calls.WriteString(`compdef() { print -r -- "compdef $*"; }
out=()
compadd() {
	while [[ $1 == -* ]]; do
		case $1 in
		-a) out+=(${(P)2}); shift 2; continue ;;
		--) shift; break ;;
		esac
		shift
	done
	out+=("$@")
}
_describe() { local e; for e in ${(P)4}; do out+=(${e%%:*}); done; }
_files() { out+=("<files>"); }
_message() { out+=("<message>"); }
_normal() { out+=("<normal:${words[1]}:$CURRENT>"); }
compset() { [[ $1 == -P ]] && words[CURRENT]=${words[CURRENT]#*=}; }
c() { out=(); words=("$@"); CURRENT=${#words}; _envinit; print -r -- "${(j: :)out}"; }
`)
	fmt.Fprintf(&calls, "source %s || exit 1\n", shQuote(script))
	cases := append(tableCompletions(), moreCompletions()...)
	cases = append(cases, completion{words: []string{"envinit", "--service", "api", "--", "ech"}, want: []string{"<normal:ech:1>"}})
	for _, c := range cases {
		calls.WriteString("c")
		for _, w := range c.words {
			calls.WriteString(" " + shQuote(w))
		}
		calls.WriteString("\n")
	}
	out := runShell(t, zsh, []string{"-f", "-c", calls.String()})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(cases)+1 || lines[0] != "compdef _envinit envinit" {
		t.Fatalf("zsh printed %d lines, the first %q; want compdef's, then one per case:\n%s", len(lines), lines[0], out)
	}
	for i, c := range cases {
		got := strings.Fields(lines[i+1])
		// zsh narrows to the word under the cursor itself.
		prefix := c.words[len(c.words)-1]
		if _, v, ok := strings.Cut(prefix, "="); ok && strings.HasPrefix(prefix, "--") {
			prefix = v
		}
		got = slices.DeleteFunc(got, func(s string) bool { return !strings.HasPrefix(s, prefix) && !strings.HasPrefix(s, "<") })
		if c.want == nil {
			got = slices.DeleteFunc(got, func(s string) bool { return s == "<files>" || s == "<message>" })
		}
		checkCompletion(t, "zsh", c, got)
	}
}

// TestCompletionFish loads the fish script in a real fish and asks it
// for each case's completions with complete -C, as fish itself does at a
// tab.
func TestCompletionFish(t *testing.T) {
	fish := lookShell(t, "fish")
	script := completionScript(t, "fish")
	var calls strings.Builder
	fmt.Fprintf(&calls, "source %s; or exit 1\n", shQuote(script))
	cases := append(tableCompletions(), moreCompletions()...)
	cases = append(cases, completion{words: []string{"envinit", "--service", "api", "--", "ech"}, want: []string{"echo"}, subset: true})
	for _, c := range cases {
		fmt.Fprintf(&calls, "set -l r (complete -C %s | string replace -r '\\t.*' ''); echo \"#$r\"\n", fishQuote(strings.Join(c.words, " ")))
	}
	out := runShell(t, fish, []string{"--no-config", "-c", calls.String()})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("fish printed %d lines; want one per case, %d:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		var words []string
		for _, w := range strings.Fields(strings.TrimPrefix(lines[i], "#")) {
			// fish offers --format=json for --format=: the value is what
			// follows the =.
			if last := c.words[len(c.words)-1]; strings.HasPrefix(last, "--") && strings.Contains(last, "=") {
				_, w, _ = strings.Cut(w, "=")
			}
			words = append(words, w)
		}
		checkCompletion(t, "fish", c, words)
	}
}

func checkCompletion(t *testing.T, shell string, c completion, got []string) {
	t.Helper()
	got = slices.Compact(slices.Sorted(slices.Values(got)))
	want := slices.Sorted(slices.Values(c.want))
	if c.subset {
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %q: offers %q; want %q among them", shell, c.words, got, w)
			}
		}
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: %q: offers %q; want %q", shell, c.words, got, want)
	}
}

// completionScript writes envinit completion SHELL to a file, as a user
// would install it, and returns its path.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	r := runApp(t, nil, "completion", shell)
	if r.err != nil || r.stdout == "" {
		t.Fatalf("envinit completion %s: %v", shell, r.err)
	}
	path := filepath.Join(t.TempDir(), "envinit."+shell)
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lookShell finds a shell, or skips: bash is everywhere; zsh and fish are
// what scripts/test installs (apt-get install zsh fish).
func lookShell(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s: its completion script is not checked (apt-get install %s)", name, name)
	}
	return path
}

func runShell(t *testing.T, shell string, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=dumb", "LC_ALL=C"}
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s\n%s", shell, err, out, stderr)
	}
	return string(out)
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// The scripts pass each shell's own syntax check, and the bash one
// shellcheck, where installed.
func TestCompletionScriptsParse(t *testing.T) {
	for _, tc := range []struct{ shell, tool string }{{"bash", "bash -n"}, {"zsh", "zsh -n"}, {"fish", "fish --no-execute"}, {"bash", "shellcheck -s bash"}} {
		argv := strings.Fields(tc.tool)
		path, err := exec.LookPath(argv[0])
		if err != nil {
			t.Logf("no %s: the %s script is not checked with it", argv[0], tc.shell)
			continue
		}
		out, err := exec.Command(path, append(argv[1:], completionScript(t, tc.shell))...).CombinedOutput()
		if err != nil {
			t.Errorf("%s on the %s script: %v\n%s", tc.tool, tc.shell, err, out)
		}
	}
	if r := runApp(t, nil, "completion", "tcsh"); exitCode(r.err) != exitUsage || !strings.Contains(r.stderr, "bash, zsh or fish") {
		t.Errorf("completion tcsh: %v, %q; want 64 naming the shells", r.err, r.stderr)
	}
}
