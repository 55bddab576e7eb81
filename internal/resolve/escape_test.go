package resolve

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, s := range []string{
		"", "plain", "#", "#{", "##{", "###{", "#{$/K}", "##{$/K}", "pw#{x", "}#{", "a#b#{c}#{", "{#{#{{",
	} {
		stored := Escape(s)
		if err := Syntax("$api/K", stored); err != nil {
			t.Errorf("Syntax(Escape(%q)) = %v; want nil", s, err)
		}
		res, err := run(t, map[string]string{"services/api/K": stored}, "api", nil)
		if err != nil {
			t.Errorf("resolving Escape(%q) = %q: %v", s, stored, err)
			continue
		}
		if got := res.Secrets[0].Value.Reveal(); got != s {
			t.Errorf("Escape(%q) = %q resolves to %q; want the literal", s, stored, got)
		}
	}
}

func TestSyntax(t *testing.T) {
	var se *SyntaxError
	err := Syntax("$api/PASSWORD", "pw#{x"+canary)
	if !errors.As(err, &se) || se.Offset != 2 || se.Where != "$api/PASSWORD" || !strings.Contains(se.Reason, "unterminated") {
		t.Errorf(`Syntax("pw#{x...") = %v; want an unterminated reference at byte 2 of $api/PASSWORD`, err)
	}
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("error text holds the value: %v", err)
	}
	for _, ok := range []string{"", "#", "a # b", "##{", "#{$/K}", "#{$svc/K} and ##{"} {
		if err := Syntax("w", ok); err != nil {
			t.Errorf("Syntax(%q) = %v; want nil", ok, err)
		}
	}
}

func TestReferences(t *testing.T) {
	refs, err := References("w", "#{$/A}-##{$/NOT}-#{$svc/B}#{$/A}")
	if err != nil || fmt.Sprint(refs) != "[$/A $svc/B $/A]" {
		t.Errorf("References = %v, %v; want [$/A $svc/B $/A]", refs, err)
	}
	if refs, err := References("w", "plain # text"); refs != nil || err != nil {
		t.Errorf("References of a literal = %v, %v; want none", refs, err)
	}
	var se *SyntaxError
	if _, err := References("w", "#{$/A} #{"+canary); !errors.As(err, &se) || strings.Contains(err.Error(), canary) {
		t.Errorf("References of a malformed value = %v; want a *SyntaxError without the value", err)
	}
}

// FuzzEscape: for every string s, the stored form Escape(s) parses, holds
// no reference, and resolves to exactly s.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "#{", "##{", "###{{", "#{$/K}", "x#{$a/B}y##{z", "#", "}{#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stored := Escape(s)
		parts, err := parse("w", stored)
		if err != nil {
			t.Fatalf("Escape(%q) = %q does not parse: %v", s, stored, err)
		}
		var b strings.Builder
		for _, p := range parts {
			if p.isRef {
				t.Fatalf("Escape(%q) = %q holds a reference", s, stored)
			}
			b.WriteString(p.lit)
		}
		if b.String() != s {
			t.Fatalf("Escape(%q) = %q parses to %q", s, stored, b.String())
		}
		// And through the resolver, where it accepts the value at all.
		if CheckValue(s) != "" || len(s) > MaxValueSize {
			return
		}
		g := &Graph{services: map[string]map[string]Value{"api": {"K": NewValue(stored)}}, globals: map[string]Value{}, asked: map[string]bool{}}
		res, err := Resolve(g, "api", nil)
		if err != nil {
			t.Fatalf("Resolve(Escape(%q)): %v", s, err)
		}
		if got := res.Secrets[0].Value.Reveal(); got != s {
			t.Fatalf("Escape(%q) resolves to %q", s, got)
		}
	})
}
