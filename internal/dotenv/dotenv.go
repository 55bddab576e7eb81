// Package dotenv is envinit's one owner of the dotenv format, the format
// of Docker Compose's env_file and the dotenv libraries: Parse reads it
// (envinit secrets import), Quote writes a value so that Parse, Compose and
// the libraries read it back unchanged (envinit render --format dotenv).
//
// The grammar, as the README's Operator tools section describes it:
//
//   - blank lines and lines starting with # are skipped; "export " may
//     precede KEY; spaces may surround =;
//   - a bare value runs to the end of the line, less trailing white space
//     and a comment starting with a # at its start or after white space
//     (but not an envinit reference, #{ or ##{);
//   - a 'single-quoted' value is literal, and may span lines;
//   - a "double-quoted" value may span lines; in it \n, \r, \t, \\, \",
//     \$ and \' are escapes, and a backslash before anything else stays;
//   - after a closing quote only white space and a comment may follow;
//   - nothing is interpolated: $VAR and ${VAR} stay as they are.
//
// Errors name a line, never its text: an unquoted line of a multi-line
// value may be part of a secret.
package dotenv

import (
	"bytes"
	"fmt"
	"strings"
)

// Pair is one KEY=VALUE of a file.
type Pair struct {
	Key, Value string
	Line       int // where KEY is, from 1
}

// Error is a problem at a line of a file. It never quotes the file.
type Error struct {
	Line   int
	Key    string // when it is known to be a name
	Reason string
}

func (e *Error) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Parse reads a dotenv file and returns its pairs in file order, and every
// syntax problem found, each an *Error: a statement that fails is skipped
// to the end of its line so that the next ones are still read. A key that
// is not a name ([A-Za-z_][A-Za-z0-9_]*) is a problem too, reported
// without the key. Whether a pair may be stored (empty values, keys given
// twice, forbidden keys) is the caller's to judge.
func Parse(data []byte) ([]Pair, []error) {
	p := &parser{src: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), line: 1}
	var pairs []Pair
	var errs []error
	for {
		pair, err, more := p.next()
		switch {
		case err != nil:
			errs = append(errs, err)
		case pair.Key == "":
		case !ValidName(pair.Key):
			// A key is named only once it looks like one: a line that is
			// not a statement may be part of a secret.
			errs = append(errs, &Error{Line: pair.Line, Reason: "not a valid key name ([A-Za-z_][A-Za-z0-9_]*)"})
		default:
			pairs = append(pairs, pair)
		}
		if !more {
			return pairs, errs
		}
	}
}

// ValidName reports whether k is a key name: [A-Za-z_][A-Za-z0-9_]*.
func ValidName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	return strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// Quote writes s so that Parse, Docker Compose's env_file and the dotenv
// libraries (Go, Node, Python, Ruby) read it back byte for byte:
//
//   - bare when it holds only characters no parser treats specially;
//   - else in single quotes, which every parser reads literally (no
//     escapes, no $ interpolation), when it holds no ' and no \ (Python's
//     dotenv unescapes \\ and \' even there);
//   - else in double quotes with \\, \", \n, \r and \$ escaped: \$ keeps
//     Compose and godotenv from interpolating, and newlines stay on one
//     line.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/:@%+") == "" {
		return s
	}
	if !strings.ContainsAny(s, `'\`) {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type parser struct {
	src  []byte
	pos  int
	line int
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

// skipBlanks skips spaces and tabs (not newlines).
func (p *parser) skipBlanks() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

// skipLine moves past the end of the current line.
func (p *parser) skipLine() {
	for !p.eof() {
		c := p.src[p.pos]
		p.pos++
		if c == '\n' {
			p.line++
			return
		}
	}
}

// endOfLine accepts white space and a comment up to the end of the line.
func (p *parser) endOfLine() bool {
	p.skipBlanks()
	switch p.peek() {
	case 0, '\n', '\r', '#':
		if p.peek() == 0 && !p.eof() {
			return false // a NUL byte, not the end of the file
		}
		if p.peek() == '\r' && p.pos+1 < len(p.src) && p.src[p.pos+1] != '\n' {
			return false
		}
		p.skipLine()
		return true
	}
	return false
}

// next parses one statement. more is false at the end of the file.
func (p *parser) next() (pair Pair, err error, more bool) {
	for {
		p.skipBlanks()
		if c := p.peek(); c == '\n' || c == '\r' || c == '#' {
			p.skipLine()
			continue
		}
		break
	}
	if p.eof() {
		return Pair{}, nil, false
	}
	line := p.line
	// Syntax errors name the line only: what stands there may be a secret.
	fail := func(reason string) (Pair, error, bool) {
		p.skipLine()
		return Pair{}, &Error{Line: line, Reason: reason}, !p.eof()
	}

	if rest := p.src[p.pos:]; bytes.HasPrefix(rest, []byte("export")) && len(rest) > 6 && (rest[6] == ' ' || rest[6] == '\t') {
		p.pos += 6
		p.skipBlanks()
	}
	start := p.pos
	for !p.eof() && !strings.ContainsRune("= \t\r\n", rune(p.peek())) {
		p.pos++
	}
	key := string(p.src[start:p.pos])
	p.skipBlanks()
	if key == "" || p.peek() != '=' {
		return fail("not a KEY=VALUE line (or part of a multi-line value: quote that)")
	}
	p.pos++ // =
	p.skipBlanks()

	var value string
	switch p.peek() {
	case '\'':
		end := bytes.IndexByte(p.src[p.pos+1:], '\'')
		if end < 0 {
			return fail("unterminated ' quote")
		}
		value = string(p.src[p.pos+1 : p.pos+1+end])
		p.line += strings.Count(value, "\n")
		p.pos += end + 2
	case '"':
		var ok bool
		if value, ok = p.doubleQuoted(); !ok {
			return fail(`unterminated " quote`)
		}
	default:
		start := p.pos
		for !p.eof() && p.peek() != '\n' {
			if p.peek() == '#' && (p.pos == start || p.src[p.pos-1] == ' ' || p.src[p.pos-1] == '\t') && !p.reference() {
				break
			}
			p.pos++
		}
		value = strings.TrimRight(string(p.src[start:p.pos]), " \t\r")
		p.skipLine()
		return Pair{Key: key, Value: value, Line: line}, nil, !p.eof()
	}
	if !p.endOfLine() {
		return fail("text after the closing quote: quote the whole value")
	}
	return Pair{Key: key, Value: value, Line: line}, nil, !p.eof()
}

// reference reports whether the # at p.pos starts an envinit reference or
// escape, #{ or ##{, rather than a comment.
func (p *parser) reference() bool {
	rest := p.src[p.pos:]
	return bytes.HasPrefix(rest, []byte("#{")) || bytes.HasPrefix(rest, []byte("##{"))
}

// doubleQuoted reads a "double-quoted" value, p.pos being on its opening
// quote.
func (p *parser) doubleQuoted() (string, bool) {
	var b strings.Builder
	lines := 0
	for i := p.pos + 1; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case c == '"':
			p.pos = i + 1
			p.line += lines
			return b.String(), true
		case c == '\\' && i+1 < len(p.src):
			i++
			switch e := p.src[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '$', '\'':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				i-- // the next character is read as it is
			}
		default:
			if c == '\n' {
				lines++
			}
			b.WriteByte(c)
		}
	}
	return "", false
}
