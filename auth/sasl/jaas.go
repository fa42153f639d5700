package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// Login module class names a sasl.jaas.config names.
const (
	PlainLoginModule       = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule       = "org.apache.kafka.common.security.scram.ScramLoginModule"
	OAuthBearerLoginModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
)

// JAASEntry is one login module of a JAAS configuration:
//
//	<login module class> <control flag> [<key>=<value> ...];
type JAASEntry struct {
	LoginModule string
	// ControlFlag is REQUIRED, REQUISITE, SUFFICIENT or OPTIONAL.
	ControlFlag string
	// Options holds the key=value pairs. Values are secrets (passwords,
	// user_<name> entries): never log them.
	Options map[string]string
}

// String names the module and its option keys, never the values.
func (e JAASEntry) String() string {
	keys := make([]string, 0, len(e.Options))
	for k := range e.Options {
		keys = append(keys, k)
	}
	return fmt.Sprintf("%s %s options=%v", e.LoginModule, e.ControlFlag, keys)
}

// ErrJAAS marks a sasl.jaas.config that does not parse.
var ErrJAAS = errors.New("sasl: invalid JAAS config")

// ParseJAAS parses a sasl.jaas.config value as Kafka's JaasConfig does, with
// the tokens of java.io.StreamTokenizer as JaasConfig sets it up: words are
// letters, digits, '.', '-', '_', '$' and characters from U+00A0 on,
// starting with a letter, '_', '$' or such a character; values are words or
// quoted strings ("..." or '...', backslash escapes as Java's); // and /* */
// comments, and a lone '/' comments out the rest of the line. A value that
// is neither a word nor a quoted string (a bare number such as password=123)
// is refused as Kafka refuses it: quote it.
func ParseJAAS(config string) ([]JAASEntry, error) {
	t := &jaasTokenizer{s: []rune(config)}
	var entries []JAASEntry
	for {
		tok := t.next()
		if tok.kind == tokEOF {
			break
		}
		e, err := parseJAASEntry(t, tok)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: Login module not specified in JAAS config", ErrJAAS)
	}
	return entries, nil
}

// ParseServerJAAS parses a broker's listener.name.<l>.<mechanism>.sasl.jaas.config:
// exactly one login module, as Kafka's JaasContext requires.
func ParseServerJAAS(config string) (JAASEntry, error) {
	entries, err := ParseJAAS(config)
	if err != nil {
		return JAASEntry{}, err
	}
	if len(entries) != 1 {
		return JAASEntry{}, fmt.Errorf("%w: JAAS config property contains %d login modules, should be 1 module", ErrJAAS, len(entries))
	}
	return entries[0], nil
}

func parseJAASEntry(t *jaasTokenizer, first jaasToken) (JAASEntry, error) {
	// Checked last, where Java's AppConfigurationEntry refuses it.
	moduleErr := fmt.Errorf("%w: Login module name not specified in JAAS config", ErrJAAS)
	e := JAASEntry{LoginModule: first.sval, Options: map[string]string{}}
	flag := t.next()
	if flag.kind == tokEOF {
		return JAASEntry{}, fmt.Errorf("%w: Login module control flag not specified in JAAS config", ErrJAAS)
	}
	if !flag.hasString() {
		return JAASEntry{}, fmt.Errorf("%w: Login module control flag is not available in the JAAS config", ErrJAAS)
	}
	switch f := strings.ToUpper(flag.sval); f {
	case "REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL":
		e.ControlFlag = f
	default:
		return JAASEntry{}, fmt.Errorf("%w: Invalid login module control flag '%s' in JAAS config", ErrJAAS, flag.sval)
	}
	for {
		key := t.next()
		if key.kind == tokEOF || key.isChar(';') {
			if !key.isChar(';') {
				return JAASEntry{}, fmt.Errorf("%w: JAAS config entry not terminated by semi-colon", ErrJAAS)
			}
			if !first.hasString() || first.sval == "" {
				return JAASEntry{}, moduleErr
			}
			return e, nil
		}
		if !key.hasString() {
			return JAASEntry{}, fmt.Errorf("%w: option key expected in JAAS config, got %s", ErrJAAS, key.describe())
		}
		eq := t.next()
		if !eq.isChar('=') {
			return JAASEntry{}, fmt.Errorf("%w: Value not specified for key '%s' in JAAS config", ErrJAAS, key.sval)
		}
		val := t.next()
		if val.kind == tokEOF || !val.hasString() {
			return JAASEntry{}, fmt.Errorf("%w: Value not specified for key '%s' in JAAS config", ErrJAAS, key.sval)
		}
		e.Options[key.sval] = val.sval
	}
}

type jaasTokenKind int8

const (
	tokEOF    jaasTokenKind = iota
	tokWord                 // sval set
	tokQuoted               // sval set
	tokNumber               // a number: StreamTokenizer leaves sval null
	tokChar                 // an ordinary character
)

type jaasToken struct {
	kind jaasTokenKind
	sval string
	ch   rune
}

func (t jaasToken) hasString() bool    { return t.kind == tokWord || t.kind == tokQuoted }
func (t jaasToken) isChar(c rune) bool { return t.kind == tokChar && t.ch == c }

func (t jaasToken) describe() string {
	switch t.kind {
	case tokNumber:
		return "a number"
	case tokChar:
		return fmt.Sprintf("'%c'", t.ch)
	}
	return "end of input"
}

// jaasTokenizer reproduces java.io.StreamTokenizer with the settings of
// Kafka's JaasConfig (default syntax table, slashSlashComments,
// slashStarComments, wordChars '-', '_', '$').
type jaasTokenizer struct {
	s   []rune
	pos int
}

const eofRune = -1

func (t *jaasTokenizer) read() rune {
	if t.pos >= len(t.s) {
		t.pos = len(t.s) + 1 // reading past the end stays past the end
		return eofRune
	}
	r := t.s[t.pos]
	t.pos++
	return r
}

// unread pushes back the rune read last (StreamTokenizer's peekc).
func (t *jaasTokenizer) unread() { t.pos-- }

func isJAASWhitespace(r rune) bool { return r >= 0 && r <= ' ' }

// isJAASAlpha: letters, U+00A0-U+00FF and everything above U+00FF (as
// StreamTokenizer treats chars >= 256), plus the word chars JaasConfig adds.
func isJAASAlpha(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r >= 0xA0 || r == '_' || r == '$' || r == '-'
}

func isJAASDigit(r rune) bool { return (r >= '0' && r <= '9') || r == '.' || r == '-' }

func (t *jaasTokenizer) next() jaasToken {
	for {
		c := t.read()
		for isJAASWhitespace(c) {
			c = t.read()
		}
		if c == eofRune {
			return jaasToken{kind: tokEOF}
		}
		// '-' is both a digit and a word char; StreamTokenizer tries the
		// number first.
		if isJAASDigit(c) {
			if c == '-' {
				d := t.read()
				if d != '.' && (d < '0' || d > '9') {
					t.unread()
					return jaasToken{kind: tokChar, ch: '-'}
				}
				c = d
			}
			seenDot := false
			for (c >= '0' && c <= '9') || (c == '.' && !seenDot) {
				seenDot = seenDot || c == '.'
				c = t.read()
			}
			t.unread()
			return jaasToken{kind: tokNumber}
		}
		if isJAASAlpha(c) {
			var sb strings.Builder
			for isJAASAlpha(c) || isJAASDigit(c) || (c >= '0' && c <= '9') {
				sb.WriteRune(c)
				c = t.read()
			}
			t.unread()
			return jaasToken{kind: tokWord, sval: sb.String()}
		}
		if c == '"' || c == '\'' {
			return jaasToken{kind: tokQuoted, sval: t.quoted(c), ch: c}
		}
		if c == '/' {
			d := t.read()
			switch d {
			case '*':
				prev := rune(0)
				for {
					d = t.read()
					if d == eofRune || (prev == '*' && d == '/') {
						break
					}
					prev = d
				}
				continue
			default:
				// "//" or a lone '/' (the comment character): skip the line.
				for d != '\n' && d != '\r' && d != eofRune {
					d = t.read()
				}
				continue
			}
		}
		return jaasToken{kind: tokChar, ch: c}
	}
}

// quoted reads a quoted string after its opening quote q. It ends at the
// matching quote, a line end or the end of input, as StreamTokenizer.
func (t *jaasTokenizer) quoted(q rune) string {
	var sb strings.Builder
	d := t.read()
	for d != eofRune && d != q && d != '\n' && d != '\r' {
		var c rune
		if d == '\\' {
			c = t.read()
			first := c
			if c >= '0' && c <= '7' {
				c -= '0'
				c2 := t.read()
				if c2 >= '0' && c2 <= '7' {
					c = c<<3 + (c2 - '0')
					c2 = t.read()
					if c2 >= '0' && c2 <= '7' && first <= '3' {
						c = c<<3 + (c2 - '0')
						d = t.read()
					} else {
						d = c2
					}
				} else {
					d = c2
				}
			} else {
				switch c {
				case 'a':
					c = 0x7
				case 'b':
					c = '\b'
				case 'f':
					c = 0xC
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				case 't':
					c = '\t'
				case 'v':
					c = 0xB
				case eofRune:
					c = 0xFFFF // Java stores (char)-1
				}
				d = t.read()
			}
		} else {
			c = d
			d = t.read()
		}
		sb.WriteRune(c)
	}
	if d != q {
		t.unread()
	}
	return sb.String()
}
