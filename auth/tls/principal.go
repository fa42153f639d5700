package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spool-broker/spool/auth"
)

// rfc2253Keywords are the attribute types Java's X500Principal.getName()
// (RFC 2253 format) prints by keyword; every other type prints as its OID
// with the value in "#hex" form.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// ASN.1 string tags Java prints as text (AVA.isDerString, non-canonical).
const (
	tagUTF8String      = 12
	tagPrintableString = 19
	tagT61String       = 20
	tagIA5String       = 22
	tagGeneralString   = 27
	tagBMPString       = 30
)

type attributeTypeAndValue struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// RFC2253 is the certificate subject as Java's X500Principal.getName()
// prints it, which is what Kafka's default principal builder uses: RDNs
// last to first, multi-valued RDNs joined with '+' in their DER order,
// keywords CN, C, L, ST, O, OU, STREET, DC, UID and dotted OIDs otherwise
// (with "#" and the hex DER value, e.g. emailAddress), string values read
// as UTF-8 whatever their ASN.1 string type (as Java does), backslash
// before , = + < > # ; " \ anywhere in a value, before leading and
// trailing spaces, and "\00" for NUL. A subject that does not parse
// yields "". The output is checked against Java's on awkward subjects
// (TestRFC2253AgainstKafka).
func RFC2253(c *x509.Certificate) string {
	s, err := rfc2253(c.RawSubject)
	if err != nil {
		return ""
	}
	return s
}

func rfc2253(raw []byte) (string, error) {
	var rdns []asn1.RawValue
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("tls: subject is not an RDNSequence: %v", err)
	}
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		set := rdns[i]
		if set.Class != asn1.ClassUniversal || set.Tag != asn1.TagSet {
			return "", errors.New("tls: RDN is not a SET")
		}
		var avas []string
		for rest := set.Bytes; len(rest) > 0; {
			var atv attributeTypeAndValue
			var err error
			rest, err = asn1.Unmarshal(rest, &atv)
			if err != nil {
				return "", fmt.Errorf("tls: attribute: %w", err)
			}
			avas = append(avas, avaRFC2253(atv))
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ","), nil
}

func avaRFC2253(atv attributeTypeAndValue) string {
	oid := atv.Type.String()
	kw, known := rfc2253Keywords[oid]
	text, isText := derString(atv.Value)
	if !known || !isText {
		name := kw
		if !known {
			name = oid
		}
		return name + "=#" + hex.EncodeToString(atv.Value.FullBytes)
	}
	return kw + "=" + escapeRFC2253(text)
}

// derString decodes the string types Java prints as text. Java's
// AVA.toRFC2253String reads the bytes of every one of them as UTF-8,
// whatever the tag says (a BMPString "ab" prints as "\00a\00b"), with
// U+FFFD for bytes that are not UTF-8; so does Spool, so the names match.
func derString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case tagUTF8String, tagPrintableString, tagIA5String, tagGeneralString, tagT61String, tagBMPString:
	default:
		return "", false
	}
	var sb strings.Builder
	for b := v.Bytes; len(b) > 0; {
		r, n := utf8.DecodeRune(b)
		sb.WriteRune(r) // RuneError (U+FFFD) for each byte that is not UTF-8
		b = b[n:]
	}
	return sb.String(), true
}

// escapeRFC2253 is Java's AVA.toRFC2253String value escaping.
func escapeRFC2253(v string) string {
	const escapees = ",=+<>#;\"\\"
	var sb strings.Builder
	for _, c := range v {
		switch {
		case strings.ContainsRune(escapees, c):
			sb.WriteByte('\\')
			sb.WriteRune(c)
		case c == 0:
			sb.WriteString("\\00")
		default:
			sb.WriteRune(c)
		}
	}
	chars := []rune(sb.String())
	lead := 0
	for lead < len(chars) && (chars[lead] == ' ' || chars[lead] == '\r') {
		lead++
	}
	trail := len(chars) - 1
	for trail >= 0 && (chars[trail] == ' ' || chars[trail] == '\r') {
		trail--
	}
	var out strings.Builder
	for i, c := range chars {
		if i < lead || i > trail {
			out.WriteByte('\\')
		}
		out.WriteRune(c)
	}
	return out.String()
}

// PrincipalMapper is Kafka's SslPrincipalMapper: ssl.principal.mapping.rules,
// a comma-separated list of
//
//	RULE:pattern/replacement/[L|U]   (the DN must match pattern entirely;
//	                                  replacement uses $1..$n; L or U
//	                                  lower- or upper-cases the result)
//	DEFAULT                          (the DN itself)
//
// tried in order; a DN no rule applies to fails the connection. Patterns
// are Java regular expressions run by Go's RE2 engine: those RE2 cannot
// run (backreferences, lookaround, possessive quantifiers) are refused when
// the rules are parsed. One difference remains: after a match, Java's
// replaceAll also replaces an empty match right at its end, so an
// unanchored RULE:.*/x/ gives "xx" in Kafka and "x" in Spool; anchor
// patterns with ^ and $ as Kafka's documentation does.
type PrincipalMapper struct {
	rules []mappingRule
}

type mappingRule struct {
	isDefault   bool
	pattern     string
	full        *regexp.Regexp // ^(?:pattern)$
	find        *regexp.Regexp // pattern
	replacement string
	lower       bool
	upper       bool
}

// Java's \s and . (which excludes line terminators) spelled for RE2.
const (
	javaSpace = `[ \t\n\x0B\f\r]`
	javaDot   = `[^\n\r\x{85}\x{2028}\x{2029}]`
)

var (
	rulePattern  = `(DEFAULT)|RULE:((?:\\` + javaDot + `|[^\\/])*)/((?:\\` + javaDot + `|[^\\/])*)/([LU]?)` + javaDot + `*?|(` + javaDot + `*?)`
	ruleSplitter = regexp.MustCompile(javaSpace + `*(` + rulePattern + `)` + javaSpace + `*(?:,` + javaSpace + `*|$)`)
	ruleParser   = regexp.MustCompile(`^(?:` + rulePattern + `)`)
)

// ErrNoMatchingRule marks a DN no mapping rule applies to.
var ErrNoMatchingRule = errors.New("tls: no principal mapping rule applies")

// NewPrincipalMapper parses ssl.principal.mapping.rules ("" or unset:
// DEFAULT).
func NewPrincipalMapper(rules string, set bool) (*PrincipalMapper, error) {
	if !set {
		rules = "DEFAULT"
	}
	m := &PrincipalMapper{}
	trimmed := strings.TrimFunc(rules, func(r rune) bool { return r <= ' ' }) // Java's String.trim
	for _, sm := range ruleSplitter.FindAllStringSubmatch(trimmed, -1) {
		r, err := parseMappingRule(sm[1])
		if err != nil {
			return nil, err
		}
		if r != nil {
			m.rules = append(m.rules, *r)
		}
	}
	return m, nil
}

func parseMappingRule(rule string) (*mappingRule, error) {
	idx := ruleParser.FindStringSubmatchIndex(rule)
	if idx == nil {
		return nil, configErr(PropPrincipalMappingRules, rule, "Invalid rule: %s", rule)
	}
	if idx[1] != len(rule) {
		return nil, configErr(PropPrincipalMappingRules, rule, "Invalid rule: `%s`, unmatched substring: `%s`", rule, rule[idx[1]:])
	}
	group := func(n int) (string, bool) {
		if idx[2*n] < 0 {
			return "", false
		}
		return rule[idx[2*n]:idx[2*n+1]], true
	}
	if _, ok := group(1); ok {
		return &mappingRule{isDefault: true}, nil
	}
	pat, ok := group(2)
	if !ok {
		return nil, nil // an empty rule is ignored
	}
	repl, _ := group(3)
	flag, _ := group(4)
	if strings.Contains(pat, "&&") {
		// Java's character-class intersection ([a-z&&[^b]]) means
		// something else to RE2; refuse rather than match differently.
		return nil, configErr(PropPrincipalMappingRules, rule, "character class intersection (&&) is not supported")
	}
	find, err := regexp.Compile(pat)
	if err != nil {
		return nil, &ConfigError{Property: PropPrincipalMappingRules, Value: rule, Reason: "the pattern is not a regular expression Spool can run (Go RE2: no backreferences or lookaround)", Err: err}
	}
	full, err := regexp.Compile(`^(?:` + pat + `)$`)
	if err != nil {
		return nil, &ConfigError{Property: PropPrincipalMappingRules, Value: rule, Reason: "the pattern is not a regular expression Spool can run", Err: err}
	}
	return &mappingRule{pattern: pat, find: find, full: full, replacement: repl, lower: flag == "L", upper: flag == "U"}, nil
}

// String is Kafka's SslPrincipalMapper.toString.
func (m *PrincipalMapper) String() string {
	parts := make([]string, len(m.rules))
	for i, r := range m.rules {
		parts[i] = r.String()
	}
	return "SslPrincipalMapper(rules = [" + strings.Join(parts, ", ") + "])"
}

func (r mappingRule) String() string {
	if r.isDefault {
		return "DEFAULT"
	}
	s := "RULE:" + r.pattern + "/" + r.replacement
	if r.lower {
		s += "/L"
	} else if r.upper {
		s += "/U"
	}
	return s
}

// Name maps a DN to a principal name.
func (m *PrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if r.isDefault {
			return dn, nil
		}
		if !r.full.MatchString(dn) {
			continue
		}
		out, err := r.apply(dn)
		if err != nil {
			return "", err
		}
		switch {
		case r.lower:
			out = strings.ToLower(out)
		case r.upper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("%w: No rules apply to %s, rules %v", ErrNoMatchingRule, dn, m.rulesString())
}

func (m *PrincipalMapper) rulesString() string {
	s := m.String()
	return s[len("SslPrincipalMapper(rules = ") : len(s)-1]
}

// apply is Java's dn.replaceAll(pattern, replacement) after Kafka's
// escapeLiteralBackReferences.
func (r mappingRule) apply(dn string) (string, error) {
	groups := r.find.NumSubexp()
	repl := escapeLiteralBackReferences(r.replacement, groups)
	var sb strings.Builder
	last := 0
	for _, m := range r.find.FindAllStringSubmatchIndex(dn, -1) {
		sb.WriteString(dn[last:m[0]])
		if err := appendJavaReplacement(&sb, repl, dn, m, r.find); err != nil {
			return "", err
		}
		last = m[1]
	}
	sb.WriteString(dn[last:])
	return sb.String(), nil
}

var backReference = regexp.MustCompile(`\$([0-9]+)`)

// escapeLiteralBackReferences is Kafka's (from Apache NiFi): a $n with no
// such group loses digits until it names a group, and if none is left it
// becomes a literal "\$n". Like Kafka, positions come from the original
// string even after an earlier escape shifted it.
func escapeLiteralBackReferences(unescaped string, groups int) string {
	if groups == 0 {
		return unescaped
	}
	value := unescaped
	for _, m := range backReference.FindAllStringSubmatchIndex(unescaped, -1) {
		num := unescaped[m[2]:m[3]]
		if strings.HasPrefix(num, "0") {
			continue
		}
		idx, err := strconv.Atoi(num)
		if err != nil {
			idx = groups + 1 // too long to parse: Java would throw; treat as literal
		}
		for idx > groups && idx >= 10 {
			idx /= 10
		}
		if idx > groups {
			start := m[2]
			if start-1 <= len(value) {
				value = value[:start-1] + "\\" + value[start-1:]
			}
		}
	}
	return value
}

// appendJavaReplacement is java.util.regex.Matcher.appendReplacement's
// replacement syntax: \x is x, $n a group (taking more digits while they
// name a group), ${name} a named group.
func appendJavaReplacement(sb *strings.Builder, repl, s string, m []int, re *regexp.Regexp) error {
	groups := re.NumSubexp()
	groupText := func(n int) string {
		if m[2*n] < 0 {
			return ""
		}
		return s[m[2*n]:m[2*n+1]]
	}
	for i := 0; i < len(repl); {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i == len(repl) {
				return errors.New("tls: principal mapping replacement: character to be escaped is missing")
			}
			sb.WriteByte(repl[i])
			i++
		case '$':
			i++
			if i == len(repl) {
				return errors.New("tls: principal mapping replacement: Illegal group reference: group index is missing")
			}
			if repl[i] == '{' {
				end := strings.IndexByte(repl[i:], '}')
				if end < 0 {
					return errors.New("tls: principal mapping replacement: named capturing group is missing trailing '}'")
				}
				name := repl[i+1 : i+end]
				n := re.SubexpIndex(name)
				if n < 0 {
					return fmt.Errorf("tls: principal mapping replacement: No group with name {%s}", name)
				}
				sb.WriteString(groupText(n))
				i += end + 1
				continue
			}
			if repl[i] < '0' || repl[i] > '9' {
				return errors.New("tls: principal mapping replacement: Illegal group reference")
			}
			ref := int(repl[i] - '0')
			i++
			for i < len(repl) && repl[i] >= '0' && repl[i] <= '9' {
				next := ref*10 + int(repl[i]-'0')
				if next > groups {
					break
				}
				ref = next
				i++
			}
			if ref > groups {
				return fmt.Errorf("tls: principal mapping replacement: No group %d", ref)
			}
			sb.WriteString(groupText(ref))
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return nil
}

// PrincipalBuilder turns a TLS connection into a principal as Kafka's
// DefaultKafkaPrincipalBuilder does for SSL listeners: User:ANONYMOUS
// without a client certificate, else User:<mapped RFC 2253 subject>.
type PrincipalBuilder struct {
	mapper *PrincipalMapper
}

// NewPrincipalBuilder reads ssl.principal.mapping.rules from the listener's
// properties.
func NewPrincipalBuilder(p Props) (*PrincipalBuilder, error) {
	rules, set := p.get(PropPrincipalMappingRules)
	m, err := NewPrincipalMapper(rules, set)
	if err != nil {
		return nil, err
	}
	return &PrincipalBuilder{mapper: m}, nil
}

// Principal is the connection's principal after its handshake. A DN no
// rule maps is an error: Kafka fails the connection ("Failed to map name
// for ... based on SSL principal mapping rules").
func (b *PrincipalBuilder) Principal(cs cryptotls.ConnectionState) (auth.Principal, error) {
	if len(cs.PeerCertificates) == 0 {
		return auth.Anonymous, nil
	}
	dn := RFC2253(cs.PeerCertificates[0])
	name, err := b.mapper.Name(dn)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("tls: Failed to map name for '%s' based on SSL principal mapping rules: %w", dn, err)
	}
	return auth.User(name), nil
}
