package dotenv

import (
	"fmt"
	"strings"
	"testing"
)

// trickyValues are values dotenv parsers trip on; each must load back
// unchanged.
var trickyValues = []string{
	"plain",
	"with spaces",
	"  leading and trailing  ",
	`double "quoted"`,
	`single 'quoted'`,
	`both ' and "`,
	"line one\nline two\n",
	"carriage\r\nreturn",
	"tab\there",
	"$HOME and ${HOME} and $$",
	"# not a comment",
	"value # with a hash",
	"ends with a hash#",
	`back\slash`,
	`\n is not a newline`,
	`ends with a backslash\`,
	`'\''`,
	"a=b=c",
	"ünïcödé ✓",
	"#{$/KEY} stays literal",
	"`tick` $(cmd)",
	"",
	"nul\x00byte",
	"\xff\xfe not UTF-8",
}

func TestQuoteLoadsBackUnchanged(t *testing.T) {
	for _, v := range trickyValues {
		line := "KEY=" + Quote(v) + "\n"
		pairs, errs := Parse([]byte(line))
		if len(errs) > 0 || len(pairs) != 1 {
			t.Errorf("%q written as %q: got %d pairs, errors %v; want it back", v, line, len(pairs), errs)
			continue
		}
		if pairs[0].Value != v {
			t.Errorf("%q written as %q: read back %q", v, line, pairs[0].Value)
		}
	}
}

func TestQuoteForms(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"info", "info"},
		{"postgres://u@h:5432/db", "postgres://u@h:5432/db"},
		{"a,b", "a,b"},
		{"", "''"},
		{"with space", "'with space'"},
		{"$HOME", "'$HOME'"},
		{"a#b", "'a#b'"},
		{"two\nlines", "'two\nlines'"},
		{`it's`, `"it's"`},
		{`it's $5`, `"it's \$5"`},
		{`back\slash`, `"back\\slash"`},
		{"it's\nnew", `"it's\nnew"`},
		{`say "hi" it's`, `"say \"hi\" it's"`},
	} {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
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
		{"empty values are the caller's to judge", "A=\nB=''\n", []string{"A=", "B="}},
		{"keys given twice are the caller's to judge", "A=1\nA=2\n", []string{"A=1", "A=2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pairs, errs := Parse([]byte(tt.in))
			if len(errs) > 0 {
				t.Fatalf("errors %v", errs)
			}
			var got []string
			for _, p := range pairs {
				got = append(got, p.Key+"="+p.Value)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// Every problem is reported, by line, and none quotes the file: a line
// that is not a statement may be a piece of a secret.
func TestParseErrors(t *testing.T) {
	const c = "CANARY-dotenv"
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"not a statement", c + "\n", []string{"line 1: not a KEY=VALUE line"}},
		{"key without =", "A\n", []string{"line 1: not a KEY=VALUE line"}},
		{"continuation line", "K='x\n" + c + "==\n", []string{"line 1: unterminated ' quote", "line 2: not a valid key name"}},
		{"invalid key", "1A=" + c + "\nA-B=" + c + "\n", []string{"line 1: not a valid key name", "line 2: not a valid key name"}},
		{"unterminated double", `A="` + c, []string{`line 1: unterminated " quote`}},
		{"text after a quote", `A="x"` + c + "\nB=1\n", []string{"line 1: text after the closing quote"}},
		{"NUL after a quote", "A='x'\x00" + c + "\n", []string{"line 1: text after the closing quote"}},
		{"line numbers past a multi-line value", "A='1\n2\n3'\n" + c + "\n", []string{"line 4: not a KEY=VALUE line"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Parse([]byte(tt.in))
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
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

// FuzzQuote checks that every byte string survives Quote then Parse byte
// for byte: what render --format dotenv writes, import reads back.
func FuzzQuote(f *testing.F) {
	for _, v := range trickyValues {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		pairs, errs := Parse([]byte("K=" + Quote(v) + "\n"))
		if len(errs) > 0 || len(pairs) != 1 || pairs[0].Key != "K" || pairs[0].Value != v {
			t.Fatalf("%q quoted as %s: got %d pairs %+v, errors %v; want it back byte for byte", v, Quote(v), len(pairs), pairs, errs)
		}
	})
}

// FuzzParse checks that Parse never panics, accepts only valid names, and
// that every pair it reads survives Quote.
func FuzzParse(f *testing.F) {
	for _, v := range trickyValues {
		f.Add("K=" + Quote(v) + "\n")
	}
	f.Add("export A='x'\n# c\nB=\"y\\n\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		pairs, _ := Parse([]byte(in))
		for _, p := range pairs {
			if !ValidName(p.Key) {
				t.Errorf("key %q accepted; want it refused", p.Key)
			}
			back, errs := Parse([]byte(p.Key + "=" + Quote(p.Value) + "\n"))
			if len(errs) > 0 || len(back) != 1 || back[0].Value != p.Value {
				t.Errorf("%q does not survive Quote: %v", p.Value, errs)
			}
		}
	})
}
