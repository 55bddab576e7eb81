package resolve

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// canary marks values in failure tests: no error text may hold it.
const canary = "CANARY-7f3a"

func run(t *testing.T, params map[string]string, alias string, env []string) (*Result, error) {
	t.Helper()
	src := &storeSource{params: params}
	g, err := Gather(context.Background(), src, alias, env)
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	return Resolve(g, alias, env)
}

// vars renders a result as KEY=VALUE lines, sensitive ones marked "(s)",
// container ones marked "env:".
func vars(res *Result) []string {
	var out []string
	for _, s := range res.Secrets {
		out = append(out, line(s, ""))
	}
	for _, s := range res.Env {
		out = append(out, line(s, "env:"))
	}
	return out
}

func line(s Secret, tag string) string {
	mark := ""
	if s.Sensitive {
		mark = "(s)"
	}
	return tag + s.Key + mark + "=" + s.Value.Reveal()
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		env    []string
		want   []string
	}{
		{
			name: "own keys are exported, special keys are not",
			params: map[string]string{
				"services/api/PORT":        "8080",
				"services/api/URL":         "a=b=c",
				"services/api/__sensitive": "",
			},
			want: []string{"PORT=8080", "URL=a=b=c"},
		},
		{
			name: "a global reference",
			params: map[string]string{
				"global/DB_HOST":   "db.internal",
				"global/DB_USER":   "app",
				"services/api/URL": "postgres://#{$/DB_USER}@#{$/DB_HOST}:5432",
			},
			want: []string{"URL=postgres://app@db.internal:5432"},
		},
		{
			name: "an alias reference sees the target's imports",
			params: map[string]string{
				"services/api/KEY":              "#{$billing/TOKEN}",
				"services/billing/__import_svc": "$base",
				"services/billing/OWN":          "x",
				"services/base/TOKEN":           "tok",
			},
			want: []string{"KEY=tok"},
		},
		{
			name: "references resolve recursively through globals and services",
			params: map[string]string{
				"services/api/A":   "[#{$/G}]",
				"global/G":         "<#{$other/B}>",
				"services/other/B": "(#{$/H})",
				"global/H":         "h",
			},
			want: []string{"A=[<(h)>]"},
		},
		{
			name: "escapes and lone hashes are literal",
			params: map[string]string{
				"services/api/A": "##{$/X} # #x #}# ###{",
				"services/api/B": "#",
			},
			want: []string{"A=#{$/X} # #x #}# ##{", "B=#"},
		},
		{
			name: "an escaped marker in a referenced value stays literal",
			params: map[string]string{
				"services/api/A": "#{$/G}",
				"global/G":       "##{$/NOPE}",
			},
			want: []string{"A=#{$/NOPE}"},
		},
		{
			name: "own keys override an import",
			params: map[string]string{
				"services/api/__import_svc": "$base",
				"services/api/A":            "own",
				"services/base/A":           "base",
				"services/base/B":           "base",
			},
			want: []string{"A=own", "B=base"},
		},
		{
			name: "later imports override earlier ones, in every list form",
			params: map[string]string{
				"services/api/__import_svc": " $a,$b  $c,\n",
				"services/api/OWN":          "1",
				"services/a/K":              "a",
				"services/a/A":              "a",
				"services/b/K":              "b",
				"services/c/K":              "c",
				"services/c/C":              "c",
			},
			want: []string{"A=a", "C=c", "K=c", "OWN=1"},
		},
		{
			name: "imports are transitive",
			params: map[string]string{
				"services/api/__import_svc": "$mid",
				"services/mid/__import_svc": "$base",
				"services/mid/M":            "m",
				"services/base/B":           "b",
				"services/base/M":           "overridden",
			},
			want: []string{"B=b", "M=m"},
		},
		{
			name: "a diamond resolves deterministically",
			params: map[string]string{
				"services/api/__import_svc":   "$left, $right",
				"services/left/__import_svc":  "$base",
				"services/right/__import_svc": "$base",
				"services/left/L":             "l",
				"services/left/X":             "left",
				"services/right/R":            "r",
				"services/right/X":            "right",
				"services/base/X":             "base",
				"services/base/B":             "#{$/G}",
				"global/G":                    "g",
			},
			want: []string{"B=g", "L=l", "R=r", "X=right"},
		},
		{
			name: "a value referenced many times is the same everywhere",
			params: map[string]string{
				"services/api/A": "#{$/G}#{$/G}#{$api/B}",
				"services/api/B": "#{$/G}",
				"global/G":       "g",
			},
			want: []string{"A=ggg", "B=g"},
		},
		{
			name: "sensitive keys, taint, and sensitivity kept through imports",
			params: map[string]string{
				"services/api/__import_svc": "$base",
				"services/api/__sensitive":  "PASS",
				"services/api/PASS":         "p",
				"services/api/URL":          "u:#{$api/PASS}",
				"services/api/VIA_GLOBAL":   "#{$/GP}",
				"services/api/PLAIN":        "#{$/GH}",
				"services/base/__sensitive": "TOKEN, OVERRIDDEN",
				"services/base/TOKEN":       "t",
				"services/base/OVERRIDDEN":  "base",
				"services/api/OVERRIDDEN":   "own",
				"global/__sensitive":        "GP",
				"global/GP":                 "gp",
				"global/GH":                 "gh",
			},
			want: []string{"OVERRIDDEN=own", "PASS(s)=p", "PLAIN=gh", "TOKEN(s)=t", "URL(s)=u:p", "VIA_GLOBAL(s)=gp"},
		},
		{
			name: "a service may mark a key it imports as sensitive, and references see it",
			params: map[string]string{
				"services/api/__import_svc": "$mid",
				"services/api/REF":          "#{$mid/B}",
				"services/mid/__import_svc": "$base",
				"services/mid/__sensitive":  "B",
				"services/base/B":           "b",
			},
			want: []string{"B(s)=b", "REF(s)=b"},
		},
		{
			name: "an importer's mark taints the imported values that interpolate the key",
			params: map[string]string{
				"services/api/__import_svc": "$base",
				"services/api/__sensitive":  "PW",
				"services/api/OWN":          "o:#{$api/URL}",
				"services/base/PW":          "p",
				"services/base/URL":         "u:#{$base/PW}",
			},
			env:  []string{"DSN=d:#{$api/URL}", "DIRECT=d:#{$base/URL}"},
			want: []string{"OWN(s)=o:u:p", "PW(s)=p", "URL(s)=u:p", "env:DIRECT(s)=d:u:p", "env:DSN(s)=d:u:p"},
		},
		{
			name: "a mark by a service on the import path holds when the importer overrides the key",
			params: map[string]string{
				"services/api/__import_svc": "$mid",
				"services/api/PW":           "mine",
				"services/api/REF":          "#{$base/URL}",
				"services/mid/__import_svc": "$base",
				"services/mid/__sensitive":  "PW",
				"services/base/PW":          "p",
				"services/base/URL":         "u:#{$base/PW}",
			},
			want: []string{"PW=mine", "REF(s)=u:p", "URL(s)=u:p"},
		},
		{
			name: "a referenced service's mark taints what interpolates the key, wherever it is referenced",
			params: map[string]string{
				"services/api/__import_svc": "$base",
				"services/api/X":            "#{$mid/URL}",
				"services/mid/__import_svc": "$base",
				"services/mid/__sensitive":  "PW",
				"services/base/PW":          "p",
				"services/base/URL":         "u:#{$base/PW}",
			},
			want: []string{"PW(s)=p", "URL(s)=u:p", "X(s)=u:p"},
		},
		{
			name: "a mark by a service this start does not read changes nothing",
			params: map[string]string{
				"services/api/__import_svc":   "$base",
				"services/other/__import_svc": "$base",
				"services/other/__sensitive":  "PW",
				"services/base/PW":            "p",
				"services/base/URL":           "u:#{$base/PW}",
			},
			want: []string{"PW=p", "URL=u:p"},
		},
		{
			name: "container variables are resolved, tainted and otherwise left alone",
			params: map[string]string{
				"services/api/__sensitive": "PASS",
				"services/api/PASS":        "p",
				"global/H":                 "h",
			},
			env: []string{
				"DSN=x://#{$/H}", "SECRET_DSN=x://#{$api/PASS}", "PLAIN=no refs # here",
				"ESC=##{x}", "ENVINIT_STORE=#{broken", "DSN=second #{$/NOPE}",
			},
			want: []string{"PASS(s)=p", "env:DSN=x://h", "env:ESC=#{x}", "env:SECRET_DSN(s)=x://p"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, tt.params, "api", tt.env)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			got := vars(res)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	c := canary
	bomb := map[string]string{"services/api/A": "#{$/L0}"}
	for i := range 20 {
		bomb[fmt.Sprintf("global/L%d", i)] = strings.Repeat(fmt.Sprintf("#{$/L%d}", i+1), 4)
	}
	bomb["global/L20"] = c
	tests := []struct {
		name   string
		params map[string]string
		env    []string
		as     any      // the error type errors.As must find
		want   []string // substrings of the message
	}{
		{"unterminated reference", map[string]string{"services/api/A": c + "#{$/X"}, nil,
			new(*SyntaxError), []string{"$api/A", "byte 11", "unterminated"}},
		{"empty reference", map[string]string{"services/api/A": "#{}" + c}, nil,
			new(*SyntaxError), []string{"$api/A", "empty reference"}},
		{"reference without $", map[string]string{"services/api/A": "#{DB}" + c}, nil,
			new(*SyntaxError), []string{"does not start with"}},
		{"reference without a key", map[string]string{"services/api/A": "#{$svc}" + c}, nil,
			new(*SyntaxError), []string{`no "/KEY"`}},
		{"reference with a bad alias", map[string]string{"services/api/A": "#{$-x/K}" + c}, nil,
			new(*SyntaxError), []string{"invalid service alias"}},
		{"reference with a bad key", map[string]string{"services/api/A": "#{$/K-1}" + c}, nil,
			new(*SyntaxError), []string{"invalid key"}},
		{"reference to a special key", map[string]string{"services/api/A": "#{$b/__sensitive}", "services/b/X": c}, nil,
			new(*SyntaxError), []string{"special keys"}},
		{"missing global", map[string]string{"services/api/A": c + "#{$/NOPE}"}, nil,
			new(*MissingError), []string{"$api/A", "#{$/NOPE}", "no global NOPE"}},
		{"missing key of a service", map[string]string{"services/api/A": "#{$b/NOPE}", "services/b/X": c}, nil,
			new(*MissingError), []string{"service b has no key NOPE"}},
		{"reference to a service with no secrets", map[string]string{"services/api/A": c + "#{$ghost/K}"}, nil,
			new(*NoSecretsError), []string{"service ghost", "referenced by $api/A"}},
		{"the service itself has no secrets", map[string]string{"services/other/A": c}, nil,
			new(*NoSecretsError), []string{"service api has no secrets", "alias, prefix or region"}},
		{"import of a service with no secrets", map[string]string{"services/api/__import_svc": "$ghost", "services/api/A": c}, nil,
			new(*NoSecretsError), []string{"service ghost, imported by $api"}},
		{"self reference", map[string]string{"services/api/A": c + "#{$api/A}"}, nil,
			new(*CycleError), []string{"reference cycle: $api/A -> $api/A"}},
		{"reference cycle through a global and a service", map[string]string{
			"services/api/A": "#{$/G}", "global/G": "#{$o/C}", "services/o/C": c + "#{$api/A}"}, nil,
			new(*CycleError), []string{"reference cycle: $api/A -> $/G -> $o/C -> $api/A"}},
		{"import cycle", map[string]string{
			"services/api/__import_svc": "$b", "services/b/__import_svc": "$c", "services/c/__import_svc": "$b", "services/c/X": c}, nil,
			new(*CycleError), []string{"import cycle: $b -> $c -> $b"}},
		{"self import", map[string]string{"services/api/__import_svc": "$api", "services/api/X": c}, nil,
			new(*CycleError), []string{"import cycle: $api -> $api"}},
		{"import entry without $", map[string]string{"services/api/__import_svc": "$a, b", "services/a/X": c}, nil,
			new(*SyntaxError), []string{"$api/__import_svc", "entry 2"}},
		{"empty import list", map[string]string{"services/api/__import_svc": " , ", "services/api/X": c}, nil,
			new(*SyntaxError), []string{"empty import list"}},
		{"invalid key name", map[string]string{"services/api/my-key": c}, nil,
			new(*KeyError), []string{`"my-key"`, "not a valid name"}},
		{"key starting with a digit", map[string]string{"services/api/1A": c}, nil,
			new(*KeyError), []string{"not a valid name"}},
		{"ENVINIT_ key", map[string]string{"services/api/ENVINIT_SERVICE": c}, nil,
			new(*KeyError), []string{"ENVINIT_SERVICE", "configures envinit"}},
		{"LD_ key", map[string]string{"services/api/LD_PRELOAD": c}, nil,
			new(*KeyError), []string{"LD_PRELOAD", "dynamic loader"}},
		{"LD_ key from an import", map[string]string{"services/api/__import_svc": "$b", "services/b/LD_AUDIT": c}, nil,
			new(*KeyError), []string{"$b", "LD_AUDIT"}},
		{"glibc unsafe key", map[string]string{"services/api/GLIBC_TUNABLES": c}, nil,
			new(*KeyError), []string{"GLIBC_TUNABLES"}},
		{"shell hook key", map[string]string{"services/api/BASH_ENV": c}, nil,
			new(*KeyError), []string{"BASH_ENV"}},
		{"unknown special key", map[string]string{"services/api/__import": c}, nil,
			new(*KeyError), []string{"unknown special key"}},
		{"sensitive list naming a missing key", map[string]string{"services/api/__sensitive": "PASWORD", "services/api/PASSWORD": c}, nil,
			new(*KeyError), []string{"PASWORD", "not a key of $api"}},
		{"exported shell function", map[string]string{"services/api/F": "() { " + c + "; }"}, nil,
			new(*ValueError), []string{"$api/F", "exported shell function"}},
		{"exported shell function through a reference", map[string]string{"services/api/F": "#{$/G}", "global/G": "() { " + c + "; }"}, nil,
			new(*ValueError), []string{"$api/F", "exported shell function"}},
		{"NUL byte", map[string]string{"services/api/A": c + "\x00"}, nil,
			new(*ValueError), []string{"NUL"}},
		{"oversized value", map[string]string{"services/api/A": c + strings.Repeat("x", MaxValueSize)}, nil,
			new(*ValueError), []string{"larger than 128 KiB"}},
		{"reference bomb", bomb, nil,
			new(*ValueError), []string{"$api/A -> $/L0 -> $/L1 -> $/L2 -> ", " -> $/L12 -> $/L13: expands past 128 KiB"}},
		{"deep missing reference", map[string]string{
			"services/api/A": "#{$b/K}" + c, "services/b/K": "#{$/G1}", "global/G1": "#{$/G2}" + c, "global/G2": c + "#{$/NOPE}"}, nil,
			new(*MissingError), []string{"$api/A -> $b/K -> $/G1 -> $/G2: reference #{$/NOPE}: no global NOPE"}},
		{"deep malformed reference", map[string]string{
			"services/api/__import_svc": "$b", "services/b/K": "#{$/G1}", "global/G1": c + "#{$/X"}, nil,
			new(*SyntaxError), []string{"$api/K -> $/G1: malformed reference at byte 11"}},

		{"malformed reference in the container env", map[string]string{"services/api/A": "a"}, []string{"DSN=" + c + "#{$/X"},
			new(*SyntaxError), []string{"env DSN", "unterminated"}},
		{"missing reference in the container env", map[string]string{"services/api/A": "a"}, []string{"DSN=" + c + "#{$/X}"},
			new(*MissingError), []string{"env DSN", "no global X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, tt.params, "api", tt.env)
			if err == nil {
				t.Fatalf("got %v; want an error", vars(res))
			}
			msg := err.Error()
			if strings.Contains(msg, canary) {
				t.Fatalf("error text holds a secret value: %q", strings.ReplaceAll(msg, canary, "<CANARY>"))
			}
			if !errors.Is(err, ErrData) {
				t.Errorf("errors.Is(err, ErrData) = false for %q", msg)
			}
			if !errors.As(err, tt.as) {
				t.Errorf("got %T %q; want %T", err, msg, tt.as)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("got %q; want it to contain %q", msg, w)
				}
			}
		})
	}
}

func TestResolveReportsEveryProblem(t *testing.T) {
	params := map[string]string{
		"services/api/__import_svc": "$ghost",
		"services/api/A":            "#{$/NOPE}",
		"services/api/B":            "#{",
		"services/api/C":            "#{$api/C}",
		"services/api/LD_PRELOAD":   "x",
		"services/api/D":            "#{$api/A}", // fails through A: reported once
	}
	_, err := run(t, params, "api", nil)
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) {
		t.Fatalf("got %v; want several errors", err)
	}
	if got := len(multi.Unwrap()); got != 5 {
		t.Errorf("got %d errors; want 5:\n%v", got, err)
	}
}

func TestResolveIsDeterministic(t *testing.T) {
	params := map[string]string{
		"services/api/__import_svc": "$a, $b",
		"services/a/X":              "#{$/NOPE1}",
		"services/b/Y":              "#{$/NOPE2}",
		"services/api/Z":            "#{",
	}
	_, first := run(t, params, "api", nil)
	for range 20 {
		if _, err := run(t, params, "api", nil); err.Error() != first.Error() {
			t.Fatalf("got %q; want %q", err, first)
		}
	}
}
