package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/envinit/envinit/internal/resolve"
)

// dotenvPair is one KEY=VALUE of a dotenv file.
type dotenvPair struct {
	key, value string
	line       int // where KEY is, from 1
}

// dotenvError is a problem at a line of a dotenv file. It never quotes the
// file: the text may be a secret.
type dotenvError struct {
	line   int
	key    string // when known
	reason string
}

func (e *dotenvError) Error() string {
	if e.key != "" {
		return fmt.Sprintf("line %d: %s: %s", e.line, e.key, e.reason)
	}
	return fmt.Sprintf("line %d: %s", e.line, e.reason)
}

func (e *dotenvError) Is(target error) bool { return target == resolve.ErrData }

// parseDotenv parses a dotenv file, the format of Docker Compose's
// env_file and the dotenv libraries, and returns its pairs in file order
// and every problem found:
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
// It refuses what the store may not hold: a key that is not a valid or
// allowed name, a key given twice, an empty value (SSM stores none) and
// the values the entrypoint refuses.
func parseDotenv(data []byte) ([]dotenvPair, []error) {
	p := &dotenvParser{src: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), line: 1}
	var pairs []dotenvPair
	var errs []error
	seen := map[string]int{}
	for {
		pair, err, more := p.next()
		if err != nil {
			errs = append(errs, err)
		} else if pair.key != "" {
			// A key is named only once it looks like one: a line that is
			// not a statement may be part of a secret (an unquoted
			// multi-line value).
			switch first, dup := seen[pair.key]; {
			case !validDotenvName(pair.key) || pair.key[0] >= '0' && pair.key[0] <= '9':
				errs = append(errs, &dotenvError{line: pair.line, reason: "not a valid key name ([A-Za-z_][A-Za-z0-9_]*)"})
			case pair.value == "":
				errs = append(errs, &dotenvError{line: pair.line, reason: "empty value, which SSM cannot store: leave the line out (or is it part of a multi-line value? quote that)"})
			case dup:
				errs = append(errs, &dotenvError{line: pair.line, key: pair.key, reason: fmt.Sprintf("also on line %d: give it once", first)})
			case resolve.CheckKey(pair.key) != "":
				errs = append(errs, &dotenvError{line: pair.line, key: pair.key, reason: resolve.CheckKey(pair.key)})
			case resolve.CheckValue(pair.value) != "":
				errs = append(errs, &dotenvError{line: pair.line, key: pair.key, reason: resolve.CheckValue(pair.value)})
			default:
				pairs = append(pairs, pair)
			}
			if _, dup := seen[pair.key]; !dup {
				seen[pair.key] = pair.line
			}
		}
		if !more {
			return pairs, errs
		}
	}
}

type dotenvParser struct {
	src  []byte
	pos  int
	line int
}

func (p *dotenvParser) eof() bool { return p.pos >= len(p.src) }
func (p *dotenvParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

// skipBlanks skips spaces and tabs (not newlines).
func (p *dotenvParser) skipBlanks() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.pos++
	}
}

// skipLine moves past the end of the current line.
func (p *dotenvParser) skipLine() {
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
func (p *dotenvParser) endOfLine() bool {
	p.skipBlanks()
	switch p.peek() {
	case 0, '\n', '\r', '#':
		if p.peek() == '\r' && p.pos+1 < len(p.src) && p.src[p.pos+1] != '\n' {
			return false
		}
		p.skipLine()
		return true
	}
	return false
}

// next parses one statement. more is false at the end of the file. A
// statement that fails is skipped to the end of its line, so that every
// problem of a file is reported.
func (p *dotenvParser) next() (pair dotenvPair, err error, more bool) {
	for {
		p.skipBlanks()
		switch p.peek() {
		case '\n', '\r':
			p.skipLine()
			continue
		case '#':
			p.skipLine()
			continue
		}
		break
	}
	if p.eof() {
		return dotenvPair{}, nil, false
	}
	line := p.line
	// Syntax errors name the line only: what stands there may be a secret.
	fail := func(reason string) (dotenvPair, error, bool) {
		p.skipLine()
		return dotenvPair{}, &dotenvError{line: line, reason: reason}, !p.eof()
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
		return dotenvPair{key: key, value: value, line: line}, nil, !p.eof()
	}
	if !p.endOfLine() {
		return fail("text after the closing quote: quote the whole value")
	}
	return dotenvPair{key: key, value: value, line: line}, nil, !p.eof()
}

// reference reports whether the # at p.pos starts an envinit reference or
// escape, #{ or ##{, rather than a comment.
func (p *dotenvParser) reference() bool {
	rest := p.src[p.pos:]
	return bytes.HasPrefix(rest, []byte("#{")) || bytes.HasPrefix(rest, []byte("##{"))
}

// doubleQuoted reads a "double-quoted" value, p.pos being on its opening
// quote.
func (p *dotenvParser) doubleQuoted() (string, bool) {
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

// validDotenvName is a name worth printing in a message as it is.
func validDotenvName(k string) bool {
	return k != "" && strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == ""
}
