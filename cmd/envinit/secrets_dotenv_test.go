package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

func TestParseDotenv(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string // KEY=value, in order
	}{
		{"bare", "A=1\nB=two words\n", []string{"A=1", "B=two words"}},
		{"no final newline", "A=1", []string{"A=1"}},
		{"CRLF", "A=1\r\nB='x'\r\n", []string{"A=1", "B=x"}},
		{"BOM", "\xef\xbb\xbfA=1\n", []string{"A=1"}},
		{"blank lines and comments", "\n# c\n  # indented\n\nA=1\n\t\n", []string{"A=1"}},
		{"export", "export A=1\nexport\tB=2\n", []string{"A=1", "B=2"}},
		{"export as a key", "export=1\n", []string{"export=1"}},
		{"spaces around =", "A = 1\nB\t=\t2  \n", []string{"A=1", "B=2"}},
		{"inline comment", "A=1 # one\nB=2\t# two\n", []string{"A=1", "B=2"}},
		{"hash inside a bare value", "A=a#b\nB=x#\n", []string{"A=a#b", "B=x#"}},
		{"single quotes are literal", `A='$HOME \n \\ "x" #y'`, []string{`A=$HOME \n \\ "x" #y`}},
		{"single quotes span lines", "A='one\ntwo'\nB=3\n", []string{"A=one\ntwo", "B=3"}},
		{"double-quote escapes", `A="q\"b\\s\$d\n\r\t\'e"`, []string{"A=q\"b\\s$d\n\r\t'e"}},
		{"unknown escape kept", `A="\w\x"`, []string{`A=\w\x`}},
		{"double quotes span lines", "A=\"one\ntwo\"\nB=3\n", []string{"A=one\ntwo", "B=3"}},
		{"no interpolation", `A=$B` + "\n" + `C="${B}"`, []string{"A=$B", "C=${B}"}},
		{"comment after a quote", `A="x" # c` + "\nB='y'\t#c\n", []string{"A=x", "B=y"}},
		{"equals in the value", "A=a=b=c\n", []string{"A=a=b=c"}},
		{"references stay", "A=#{$/DB_HOST}:5432 #{$/X}\nB=##{literal} # c\n", []string{"A=#{$/DB_HOST}:5432 #{$/X}", "B=##{literal}"}},
		{"trailing spaces of a bare value", "A=x   \n", []string{"A=x"}},
		{"quoted spaces kept", "A='  x  '\n", []string{"A=  x  "}},
		{"lower-case keys", "lower_case=1\n", []string{"lower_case=1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pairs, errs := parseDotenv([]byte(tt.in))
			if len(errs) > 0 {
				t.Fatalf("errors %v", errs)
			}
			var got []string
			for _, p := range pairs {
				got = append(got, p.key+"="+p.value)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// Every problem is reported, by line, and none quotes the file: a line
// that is not a statement may be a piece of a secret.
func TestParseDotenvErrors(t *testing.T) {
	const c = "CANARY-dotenv"
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"not a statement", c + "\n", []string{"line 1: not a KEY=VALUE line"}},
		{"key without =", "A\n", []string{"line 1: not a KEY=VALUE line"}},
		{"continuation line", "K='x\n" + c + "==\n", []string{"line 1: unterminated ' quote", "line 2: not a valid key name"}},
		{"base64 continuation", "K=\"x\nQ0FOQVJZ=\n", []string{`line 1: unterminated " quote`, "line 2: empty value"}},
		{"invalid key", "1A=" + c + "\nA-B=" + c + "\n", []string{"line 1: not a valid key name", "line 2: not a valid key name"}},
		{"forbidden key", "LD_PRELOAD=" + c + "\n", []string{"line 1: LD_PRELOAD: LD_* variables"}},
		{"special key", "__sensitive=A\n", []string{"line 1: __sensitive: keys starting with __ are special"}},
		{"duplicate", "A=1\nB=2\nA=" + c + "\n", []string{"line 3: A: also on line 1"}},
		{"empty values", "A=\nB=''\nC=\"\"\nD= # c\n", []string{"line 1: empty value", "line 2: empty value", "line 3: empty value", "line 4: empty value"}},
		{"unterminated double", `A="` + c, []string{`line 1: unterminated " quote`}},
		{"text after a quote", `A="x"` + c + "\nB=1\n", []string{"line 1: text after the closing quote"}},
		{"NUL", "A=" + c + "\x00\n", []string{"line 1: A: value holds a NUL byte"}},
		{"shell function", "A='() { " + c + "; }'\n", []string{"line 1: A: value starts with \"() {\""}},
		{"line numbers past a multi-line value", "A='1\n2\n3'\n" + c + "\n", []string{"line 4: not a KEY=VALUE line"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseDotenv([]byte(tt.in))
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
				if !errors.Is(err, resolve.ErrData) {
					t.Errorf("%v does not match resolve.ErrData", err)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q; want %d errors starting %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d: %q; want it to start %q", i, got[i], tt.want[i])
				}
				if strings.Contains(got[i], c) {
					t.Errorf("error %d quotes the file: %q", i, got[i])
				}
			}
		})
	}
}

func FuzzParseDotenv(f *testing.F) {
	for _, v := range trickyValues {
		f.Add("K=" + dotenvQuote(v) + "\n")
	}
	f.Add("export A='x'\n# c\nB=\"y\\n\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		pairs, _ := parseDotenv([]byte(in))
		for _, p := range pairs {
			if p.value == "" || resolve.CheckKey(p.key) != "" {
				t.Errorf("pair %q accepted; want it refused", p.key)
			}
			// What render writes loads back unchanged.
			back, errs := parseDotenv([]byte(p.key + "=" + dotenvQuote(p.value) + "\n"))
			if len(errs) > 0 || len(back) != 1 || back[0].value != p.value {
				t.Errorf("%q does not survive dotenvQuote: %v", p.value, errs)
			}
		}
	})
}
