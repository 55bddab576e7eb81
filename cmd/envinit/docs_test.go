package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/cli"
)

// Every envinit command line the documentation shows parses against the
// command table: the README's code blocks, every file of examples/ (the
// CI jobs first), and the examples of each command's own help. An unknown
// command, action or flag, a value a flag does not take, or a wrong number
// of arguments fails, so the docs cannot drift from the CLI. The synopses
// (envinit render [--format env|dotenv|json] ...) are checked too: their
// commands, flags and choices.
func TestDocsCommandLines(t *testing.T) {
	var found []docLine
	readme := readDoc(t, "../../README.md")
	found = append(found, markdownLines("README.md", readme)...)
	err := filepath.WalkDir("../../examples", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(path, "../../")
		switch filepath.Ext(path) {
		case ".md":
			found = append(found, markdownLines(name, readDoc(t, path))...)
		case ".yml", ".yaml":
			found = append(found, yamlLines(name, readDoc(t, path))...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var visit func(cmds []*command)
	visit = func(cmds []*command) {
		for _, c := range cmds {
			found = append(found, helpLines(c)...)
			visit(c.Commands)
		}
	}
	visit(append([]*command{execCommand}, commands...))

	per := map[string]int{}
	for _, l := range found {
		per[l.file]++
		if err := l.check(); err != nil {
			t.Errorf("%s:%d: %s: %v", l.file, l.line, l.text, err)
		}
	}
	// The scan must find what is there: a tokenizer that misses every
	// line would pass.
	for file, atLeast := range map[string]int{"README.md": 40, "examples/ci/github-actions.yml": 3, "examples/ci/gitlab-ci.yml": 2, "help of envinit secrets set": 4} {
		if per[file] < atLeast {
			t.Errorf("%s: %d envinit command lines found; want at least %d", file, per[file], atLeast)
		}
	}
	// The README's synopses name every command.
	for _, c := range commands {
		if !slices.ContainsFunc(found, func(l docLine) bool {
			return l.file == "README.md" && l.synopsis && len(l.args) > 0 && l.args[0] == c.Name
		}) {
			t.Errorf("README.md: no synopsis of envinit %s (the usage under Invocation)", c.Name)
		}
	}
	for _, file := range []string{"examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"} {
		var lines []string
		for _, l := range found {
			if l.file == file {
				lines = append(lines, strings.Join(l.args, " "))
			}
		}
		for _, want := range []string{"check --all", "fingerprint --all --format json"} {
			if !slices.Contains(lines, want) {
				t.Errorf("%s: no envinit %s among %q", file, want, lines)
			}
		}
	}
}

// The check fails what has drifted.
func TestDocsCommandLinesFailDrift(t *testing.T) {
	doc := "```sh\n" +
		"envinit chek api\n" +
		"envinit render --fromat json\n" +
		"envinit check --format yaml\n" +
		"envinit secrets sett api K\n" +
		"envinit install\n" +
		"FP=$(envinit fingerprint api --bogus | cut -d' ' -f2)\n" +
		"```\n```\n" +
		"envinit render [--format env|yaml] [flags] [SERVICE]\n" +
		"envinit secrets set|get|nope [flags] ...\n" +
		"envinit check [--formats text|json] [SERVICE...]\n" +
		"```\n"
	lines := markdownLines("drift.md", doc)
	if len(lines) != 9 {
		t.Fatalf("found %d command lines; want 9: %+v", len(lines), lines)
	}
	for _, l := range lines {
		if err := l.check(); err == nil {
			t.Errorf("%s: passes; want it refused", l.text)
		}
	}
	good := markdownLines("good.md", "```sh\nprintf %s \"$PW\" | envinit secrets set api DB_PASSWORD --sensitive\n"+
		"envinit secrets set api \"$(printf %s \"$key\" | tr 'a-z-' 'A-Z_')\" --raw\n"+
		"ENVINIT_PREFIX=/p envinit check --all --format=json > out.json   # a comment: envinit nope\n```\n")
	if len(good) != 3 {
		t.Fatalf("found %d command lines; want 3: %+v", len(good), good)
	}
	for _, l := range good {
		if err := l.check(); err != nil {
			t.Errorf("%s: %v; want it accepted", l.text, err)
		}
	}
}

// docLine is one envinit command line of the documentation: its arguments
// after "envinit", or, for a synopsis, its words.
type docLine struct {
	file     string
	line     int
	text     string
	args     []string
	synopsis bool
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// markdownLines finds the command lines of a markdown file's fenced code
// blocks: shell lines in any block ("$ " prompts removed), and, in a block
// with no language, lines that begin "envinit " as synopses.
func markdownLines(file, doc string) []docLine {
	var out []docLine
	in, lang := false, ""
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if fence, ok := strings.CutPrefix(strings.TrimSpace(l), "```"); ok {
			in, lang = !in, fence
			continue
		}
		if !in || lang == "json" || lang == "dockerfile" {
			continue
		}
		n := i + 1
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
		}
		switch {
		case lang == "" && strings.HasPrefix(l, "envinit "):
			words := strings.Fields(strings.SplitN(l, "  ", 2)[0]) // the description follows two spaces
			out = append(out, docLine{file: file, line: n, text: l, args: words[1:], synopsis: true})
		case lang == "" && strings.HasPrefix(l, "$ "):
			out = append(out, shellLines(file, n, l[2:])...)
		case lang != "":
			out = append(out, shellLines(file, n, l)...)
		}
		// Other lines of a block with no language are output.
	}
	return out
}

// yamlLines finds the command lines of a CI file: its scalars, a list
// item or run: key stripped, read as shell.
func yamlLines(file, doc string) []docLine {
	var out []docLine
	for i, l := range strings.Split(doc, "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "- ")
		l = strings.TrimPrefix(l, "run: ")
		out = append(out, shellLines(file, i+1, l)...)
	}
	return out
}

// helpLines finds the command lines of a command's help: its indented
// lines.
func helpLines(c *command) []docLine {
	var out []docLine
	for i, l := range strings.Split(c.Long, "\n") {
		if strings.HasPrefix(l, "  ") {
			out = append(out, shellLines("help of "+strings.TrimSpace("envinit "+c.Name), i+1, strings.TrimSpace(l))...)
		}
	}
	return out
}

// shellLines returns each envinit command of a shell line: where a
// command starts (the line's start, after | ; && || $( or a VAR=value),
// the word envinit (or a path to it), then its words up to the next
// operator or comment.
func shellLines(file string, n int, line string) []docLine {
	tokens := shellTokens(line)
	var out []docLine
	atStart := true
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case tok.op != "":
			atStart = tok.op != ">" && tok.op != "<" && tok.op != ")"
			if tok.op == ">" || tok.op == "<" {
				i++ // the redirection's file
			}
			continue
		case !atStart:
			continue
		case regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(tok.word):
			continue // an assignment before the command
		}
		atStart = false
		if tok.word == "go" && i+2 < len(tokens) && tokens[i+1].word == "run" && strings.HasSuffix(tokens[i+2].word, "cmd/envinit") {
			i += 2 // go run ./cmd/envinit
		} else if tok.word != "envinit" && !strings.HasSuffix(tok.word, "/envinit") {
			continue
		}
		var args []string
		for i+1 < len(tokens) && tokens[i+1].op == "" {
			i++
			args = append(args, tokens[i].word)
		}
		out = append(out, docLine{file: file, line: n, text: line, args: args})
	}
	return out
}

type token struct{ word, op string }

// shellTokens splits a line as a POSIX shell would, enough for
// documentation: quotes, backslashes, $( ) and operators; a # that starts
// a word ends the line.
func shellTokens(line string) []token {
	var out []token
	var b strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			out = append(out, token{word: b.String()})
			b.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			return out
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			b.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := i + 1
			for depth := 0; j < len(line) && (line[j] != '"' || depth > 0); j++ {
				switch {
				case line[j] == '\\':
					j++
				case strings.HasPrefix(line[j:], "$("):
					depth++
				case line[j] == ')' && depth > 0:
					depth--
				case line[j] == '"' && depth > 0:
					k := strings.IndexByte(line[j+1:], '"')
					j += k + 1
				}
			}
			b.WriteString(line[i+1 : min(j, len(line))])
			i = j
			inWord = true
		case c == '\\' && i+1 < len(line):
			b.WriteByte(line[i+1])
			i++
			inWord = true
		case strings.HasPrefix(line[i:], "$("):
			flush()
			out = append(out, token{op: "$("})
			i++
		case strings.HasPrefix(line[i:], "&&") || strings.HasPrefix(line[i:], "||"):
			flush()
			out = append(out, token{op: line[i : i+2]})
			i++
		case strings.ContainsRune("|;&()<>`", rune(c)):
			flush()
			out = append(out, token{op: string(c)})
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return out
}

// check parses the line against the command table, running nothing.
func (l docLine) check() error {
	if l.synopsis {
		return checkSynopsis(l.args)
	}
	args := l.args
	if len(args) == 0 {
		return errors.New("no arguments: envinit does nothing")
	}
	switch args[0] {
	case "-h", "-help", "--help", "-v", "-version", "--version":
		if len(args) == 1 {
			return nil
		}
	}
	cmd, rest := execCommand, args
	if !strings.HasPrefix(args[0], "-") {
		var err error
		if cmd, rest, err = lookup(args); err != nil {
			return err
		}
	}
	_, err := cli.Parse(cmd, rest)
	if errors.Is(err, flag.ErrHelp) || err == nil && cmd.Run == nil && slices.Contains(rest, "--help") {
		return nil
	}
	if err == nil && cmd.Run == nil {
		return fmt.Errorf("%s needs an action", cmd.Name)
	}
	return err
}

// checkSynopsis checks a synopsis: the command (and actions, a|b|c), each
// --flag, and the choices written after a flag that has them.
func checkSynopsis(words []string) error {
	cmd := execCommand
	if len(words) > 0 && !strings.HasPrefix(words[0], "[") && !strings.HasPrefix(words[0], "-") {
		if cmd = find(commands, words[0]); cmd == nil {
			return fmt.Errorf("unknown command %q", words[0])
		}
		words = words[1:]
		if len(cmd.Commands) > 0 && len(words) > 0 && strings.ToUpper(words[0]) != words[0] {
			for _, a := range strings.Split(words[0], "|") {
				if find(cmd.Commands, a) == nil {
					return fmt.Errorf("%s has no action %q", cmd.Name, a)
				}
			}
			if names := strings.Split(words[0], "|"); len(names) > 1 && !slices.Equal(names, cli.Names(cmd.Commands)) {
				return fmt.Errorf("%s's actions are %s; the synopsis says %s", cmd.Name, strings.Join(cli.Names(cmd.Commands), "|"), words[0])
			}
			words = words[1:]
		}
	}
	for _, w := range words {
		name, ok := strings.CutPrefix(strings.Trim(w, "[]."), "--")
		if !ok || name == "" {
			continue
		}
		i := slices.IndexFunc(cmd.AllFlags(), func(f *cli.Flag) bool { return f.Name == name })
		if i < 0 {
			return fmt.Errorf("%s has no flag --%s", strings.TrimSpace("envinit "+cmd.Name), name)
		}
		f := cmd.AllFlags()[i]
		if next := strings.Trim(wordAfter(words, w), "[]"); f.Values != nil && strings.Contains(next, "|") && !slices.Equal(strings.Split(next, "|"), f.Values) {
			return fmt.Errorf("--%s takes %s; the synopsis says %s", name, strings.Join(f.Values, "|"), next)
		}
	}
	return nil
}

func wordAfter(words []string, w string) string {
	if i := slices.Index(words, w); i >= 0 && i+1 < len(words) {
		return words[i+1]
	}
	return ""
}

// find is the command or action named name among cmds.
func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.Word() == name {
			return c
		}
	}
	return nil
}

// Every test the documentation cites as the proof of a claim exists: a
// renamed or deleted test leaves a claim unproven, so the README, the
// docs and the examples' READMEs may only name tests that are there, in
// either module. A subtest is checked by its top-level test
// (TestDocker/FinalImage needs TestDocker).
func TestDocsCiteTestsThatExist(t *testing.T) {
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (?:\([^)]*\) )?((?:Test|Benchmark|Fuzz|Example)\w*)\(`)
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			for _, m := range decl.FindAllStringSubmatch(readDoc(t, path), -1) {
				defined[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !defined["TestDocsCiteTestsThatExist"] {
		t.Fatal("the scan of *_test.go found not even this test")
	}

	docs := []string{"../../README.md"}
	for _, pattern := range []string{"../../docs/*.md", "../../examples/*/README.md"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m...)
	}
	// TestInstall* cites every test of that prefix; TestName is how
	// SECURITY.md spells the form of a citation.
	cited := regexp.MustCompile(`\b(?:Test|Benchmark|Fuzz)[A-Z]\w*\*?`)
	exists := func(name string) bool {
		if prefix, ok := strings.CutSuffix(name, "*"); ok {
			for d := range defined {
				if strings.HasPrefix(d, prefix) {
					return true
				}
			}
			return false
		}
		return defined[name] || name == "TestName"
	}
	n := 0
	for _, doc := range docs {
		text := readDoc(t, doc)
		for i, line := range strings.Split(text, "\n") {
			for _, name := range cited.FindAllString(line, -1) {
				n++
				if !exists(name) {
					t.Errorf("%s:%d cites %s, which no *_test.go defines", strings.TrimPrefix(doc, "../../"), i+1, name)
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("found %d citations of tests in the docs; want the scan to find the dozens there are", n)
	}
}
