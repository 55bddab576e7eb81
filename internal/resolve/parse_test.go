package resolve

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string // parts: literals as-is, references as <ref>; or "error: reason"
	}{
		{"", ""},
		{"plain", "plain"},
		{"#{$/K}", "<$/K>"},
		{"a#{$svc-1.x_y/K_2}b", "a|<$svc-1.x_y/K_2>|b"},
		{"##{$/K}", "#{$/K}"},
		{"###{", "##{"},
		{"#", "#"},
		{"a#b#}#", "a#b#}#"},
		{"#{$/A}#{$/B}", "<$/A>|<$/B>"},
		{"#{$/A}##{$/B}", "<$/A>|#{$/B}"},
		{"#{", "error: unterminated"},
		{"x#{$/K", "error: unterminated"},
		{"#{}", "error: empty reference"},
		{"#{K}", "error: does not start"},
		{"#{$K}", `error: no "/KEY"`},
		{"#{$/}", "error: invalid key"},
		{"#{$/1K}", "error: invalid key"},
		{"#{$a/b/c}", "error: invalid key"},
		{"#{$_a/K}", "error: invalid service alias"},
		{"#{$a b/K}", "error: invalid service alias"},
		{"#{$/__sensitive}", "error: special keys"},
		{"#{$/A#{$/B}}", "error: invalid key"},
	}
	for _, tt := range tests {
		parts, err := parse("where", tt.in)
		var got string
		if err != nil {
			got = "error: " + err.Error()
		} else {
			var s []string
			for _, p := range parts {
				if p.isRef {
					s = append(s, "<"+p.ref.String()+">")
				} else {
					s = append(s, p.lit)
				}
			}
			got = strings.Join(s, "|")
		}
		if strings.HasPrefix(tt.want, "error: ") {
			if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, strings.TrimPrefix(tt.want, "error: ")) {
				t.Errorf("parse(%q) = %q; want an error containing %q", tt.in, got, strings.TrimPrefix(tt.want, "error: "))
			}
			continue
		}
		if got != tt.want {
			t.Errorf("parse(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidNames(t *testing.T) {
	for k, want := range map[string]bool{"A": true, "_": true, "a_1": true, "": false, "1a": false, "a-b": false, "a.b": false, "é": false} {
		if got := validKey(k); got != want {
			t.Errorf("validKey(%q) = %v; want %v", k, got, want)
		}
	}
	for a, want := range map[string]bool{"svc-abc": true, "a": true, "1.x_y-z": true, "": false, "-a": false, ".a": false, "_a": false, "a/b": false, "a b": false} {
		if got := validAlias(a); got != want {
			t.Errorf("validAlias(%q) = %v; want %v", a, got, want)
		}
	}
}

// FuzzParse: parse never panics, an error never quotes the input, and a
// successful parse round-trips: re-escaping the parts gives back a value
// that parses to the same parts.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "#{$/K}", "##{", "#{", "a#{$svc/K}b", "#{$a/b}##{#{$/C}", "#", "#{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := parse("where", s)
		if err != nil {
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		var b strings.Builder
		for _, p := range parts {
			if p.isRef {
				b.WriteString("#{" + p.ref.String() + "}")
			} else {
				b.WriteString(strings.ReplaceAll(p.lit, "#{", "##{"))
			}
		}
		again, err := parse("where", b.String())
		if err != nil {
			t.Fatalf("re-escaped %q does not parse: %v", b.String(), err)
		}
		if len(again) != len(parts) {
			t.Fatalf("re-escaped %q parses to %d parts; want %d", b.String(), len(again), len(parts))
		}
	})
}
