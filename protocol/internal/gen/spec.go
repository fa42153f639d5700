package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// vset is a set of versions: bit v is set when version v is in the set.
// Kafka versions stay far below 64.
type vset uint64

const allVersions = ^vset(0)

func parseVersions(s string) (vset, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "none":
		return 0, nil
	}
	if strings.HasSuffix(s, "+") {
		lo, err := strconv.Atoi(strings.TrimSuffix(s, "+"))
		if err != nil || lo < 0 || lo > 63 {
			return 0, fmt.Errorf("bad version range %q", s)
		}
		return allVersions << lo, nil
	}
	lo, hi := s, s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		lo, hi = s[:i], s[i+1:]
	}
	l, err1 := strconv.Atoi(lo)
	h, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || l < 0 || h > 63 || l > h {
		return 0, fmt.Errorf("bad version range %q", s)
	}
	return between(l, h), nil
}

// between is the set lo..hi inclusive.
func between(lo, hi int) vset {
	if lo > hi {
		return 0
	}
	return (allVersions << lo) & (allVersions >> (63 - hi))
}

// below is the set of versions < v.
func below(v int) vset {
	if v <= 0 {
		return 0
	}
	if v >= 64 {
		return allVersions
	}
	return ^(allVersions << v)
}

func (s vset) has(v int) bool { return v >= 0 && v < 64 && s&(1<<v) != 0 }
func (s vset) lo() int        { return bits.TrailingZeros64(uint64(s)) }
func (s vset) hi() int        { return 63 - bits.LeadingZeros64(uint64(s)) }

// cond renders a Go boolean expression over v that is true for versions in s,
// assuming v is already within valid.
func (s vset) cond(valid vset) string {
	s &= valid
	if s == valid {
		return "true"
	}
	if s == 0 {
		return "false"
	}
	lo, hi := valid.lo(), valid.hi()
	var parts []string
	for v := lo; v <= hi; {
		if !s.has(v) {
			v++
			continue
		}
		e := v
		for e+1 <= hi && s.has(e+1) {
			e++
		}
		switch {
		case v == lo && e == hi:
			parts = append(parts, "true")
		case v == lo:
			parts = append(parts, fmt.Sprintf("v <= %d", e))
		case e == hi:
			parts = append(parts, fmt.Sprintf("v >= %d", v))
		case v == e:
			parts = append(parts, fmt.Sprintf("v == %d", v))
		default:
			parts = append(parts, fmt.Sprintf("v >= %d && v <= %d", v, e))
		}
		v = e + 1
	}
	if len(parts) == 1 {
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, " || ")
}

type jField struct {
	Name             string          `json:"name"`
	Type             string          `json:"type"`
	Versions         string          `json:"versions"`
	NullableVersions string          `json:"nullableVersions"`
	TaggedVersions   string          `json:"taggedVersions"`
	FlexibleVersions *string         `json:"flexibleVersions"`
	Tag              json.RawMessage `json:"tag"`
	Default          json.RawMessage `json:"default"`
	MapKey           bool            `json:"mapKey"`
	EntityType       string          `json:"entityType"`
	About            string          `json:"about"`
	Fields           []*jField       `json:"fields"`
}

type jSpec struct {
	APIKey                *int      `json:"apiKey"`
	Type                  string    `json:"type"`
	Name                  string    `json:"name"`
	Listeners             []string  `json:"listeners"`
	ValidVersions         string    `json:"validVersions"`
	FlexibleVersions      string    `json:"flexibleVersions"`
	LatestVersionUnstable bool      `json:"latestVersionUnstable"`
	Fields                []*jField `json:"fields"`
	CommonStructs         []struct {
		Name   string    `json:"name"`
		Fields []*jField `json:"fields"`
	} `json:"commonStructs"`
}

// Field is one field of a struct after the old and new specs are merged.
type Field struct {
	Name       string // spec name
	GoName     string
	Type       string // spec type: "int32", "[]Foo", "Foo", "[]int32"
	Versions   vset
	Nullable   vset
	Tagged     vset
	Compact    vset // versions where the field may use compact encoding (field-level flexibleVersions)
	Tag        int
	Default    string
	MapKey     bool
	EntityType string
	About      string
	Fields     []*Field // inline or common struct fields
	Struct     *Struct  // resolved element struct for struct types
}

// Struct is a generated Go struct.
type Struct struct {
	GoName string
	Fields []*Field
	Msg    *Message
}

// Message is one request, response or header.
type Message struct {
	Name      string
	Kind      string // request, response, header
	Key       int
	Listeners []string
	Valid     vset
	CurValid  vset // validVersions in the new spec
	Flexible  vset
	Unstable  bool
	Fields    []*Field
	Structs   []*Struct // nested structs, in first-use order
}

func readSpecs(dir string) (map[string]*jSpec, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.json specs in %s (run make specs)", dir)
	}
	out := map[string]*jSpec{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var s jSpec
		if err := json.Unmarshal(stripComments(b), &s); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if s.Type != "request" && s.Type != "response" && s.Type != "header" {
			continue
		}
		out[s.Name] = &s
	}
	return out, nil
}

// stripComments drops whole-line // comments; the specs use no other kind.
func stripComments(b []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("//")) {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func convertFields(js []*jField, common map[string][]*jField) ([]*Field, error) {
	var out []*Field
	for _, j := range js {
		f := &Field{Name: j.Name, Type: j.Type, Tag: -1, MapKey: j.MapKey, EntityType: j.EntityType, About: j.About, Compact: allVersions}
		var err error
		if f.Versions, err = parseVersions(j.Versions); err != nil {
			return nil, fmt.Errorf("field %s: %w", j.Name, err)
		}
		if f.Nullable, err = parseVersions(j.NullableVersions); err != nil {
			return nil, fmt.Errorf("field %s: %w", j.Name, err)
		}
		if f.Tagged, err = parseVersions(j.TaggedVersions); err != nil {
			return nil, fmt.Errorf("field %s: %w", j.Name, err)
		}
		if j.FlexibleVersions != nil {
			if f.Compact, err = parseVersions(*j.FlexibleVersions); err != nil {
				return nil, fmt.Errorf("field %s: %w", j.Name, err)
			}
		}
		if len(j.Tag) > 0 {
			t := strings.Trim(string(j.Tag), `"`)
			if f.Tag, err = strconv.Atoi(t); err != nil {
				return nil, fmt.Errorf("field %s: bad tag %s", j.Name, j.Tag)
			}
		}
		if len(j.Default) > 0 {
			var s string
			if json.Unmarshal(j.Default, &s) != nil {
				s = string(j.Default) // a bare number or boolean
			}
			f.Default = s
		}
		elem := strings.TrimPrefix(j.Type, "[]")
		if !isPrimitive(elem) {
			sub := j.Fields
			if len(sub) == 0 {
				c, ok := common[elem]
				if !ok {
					return nil, fmt.Errorf("field %s: unknown struct type %s", j.Name, elem)
				}
				sub = c
			}
			if f.Fields, err = convertFields(sub, common); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func isPrimitive(t string) bool {
	switch t {
	case "bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "uuid", "bytes", "records":
		return true
	}
	return false
}

func convertSpec(s *jSpec) (*Message, error) {
	m := &Message{Name: s.Name, Kind: s.Type, Key: -1, Listeners: s.Listeners, Unstable: s.LatestVersionUnstable}
	if s.APIKey != nil {
		m.Key = *s.APIKey
	}
	var err error
	if m.Valid, err = parseVersions(s.ValidVersions); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if m.Flexible, err = parseVersions(s.FlexibleVersions); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	m.CurValid = m.Valid
	common := map[string][]*jField{}
	for _, c := range s.CommonStructs {
		common[c.Name] = c.Fields
	}
	if m.Fields, err = convertFields(s.Fields, common); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return m, nil
}

// mergeOld folds the versions of old below cut into cur: cur describes
// versions >= cut and old the versions < cut.
func mergeOld(cur, old *Message) error {
	cut := 64
	if cur.CurValid != 0 {
		cut = cur.CurValid.lo()
	}
	low := below(cut)
	cur.Valid = cur.CurValid | (old.Valid & low)
	cur.Flexible = (cur.Flexible &^ low) | (old.Flexible & low)
	if cur.CurValid == 0 {
		cur.Listeners = old.Listeners
	}
	var err error
	cur.Fields, err = mergeFields(cur.Fields, old.Fields, low, cur.Name)
	return err
}

func maskField(f *Field, keep vset) {
	f.Versions &= keep
	f.Nullable &= keep
	f.Tagged &= keep
	for _, c := range f.Fields {
		maskField(c, keep)
	}
}

func mergeFields(cur, old []*Field, low vset, where string) ([]*Field, error) {
	byName := map[string]*Field{}
	for _, f := range cur {
		maskField(f, ^low)
		byName[f.Name] = f
	}
	out := append([]*Field(nil), cur...)
	for i, o := range old {
		if o.Versions&low == 0 {
			continue
		}
		c, ok := byName[o.Name]
		if !ok {
			// A field only old versions had: re-add it after its
			// predecessor in the old spec so the wire order holds.
			maskField(o, low)
			pos := 0
			for j := i - 1; j >= 0; j-- {
				if p, ok := byName[old[j].Name]; ok {
					for k, f := range out {
						if f == p {
							pos = k + 1
						}
					}
					break
				}
			}
			out = append(out[:pos], append([]*Field{o}, out[pos:]...)...)
			byName[o.Name] = o
			continue
		}
		if c.Type != o.Type && strings.HasPrefix(c.Type, "[]") != strings.HasPrefix(o.Type, "[]") {
			return nil, fmt.Errorf("%s.%s: type %s in the new spec but %s in the old one", where, c.Name, c.Type, o.Type)
		}
		if isPrimitive(strings.TrimPrefix(c.Type, "[]")) && c.Type != o.Type {
			return nil, fmt.Errorf("%s.%s: type %s in the new spec but %s in the old one", where, c.Name, c.Type, o.Type)
		}
		c.Versions |= o.Versions & low
		c.Nullable |= o.Nullable & low
		c.Tagged |= o.Tagged & low
		c.Compact = (c.Compact &^ low) | (o.Compact & low)
		if c.Tag < 0 {
			c.Tag = o.Tag
		}
		if c.EntityType == "" {
			c.EntityType = o.EntityType
		}
		if len(c.Fields) > 0 || len(o.Fields) > 0 {
			var err error
			if c.Fields, err = mergeFields(c.Fields, o.Fields, low, where+"."+c.Name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// goName turns a spec name into a Go identifier: first letter upper case,
// and the initialisms Id and Api written ID and API.
func goName(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	for _, w := range []string{"Id", "Api"} {
		up := strings.ToUpper(w)
		var b strings.Builder
		for i := 0; i < len(s); {
			if strings.HasPrefix(s[i:], w) && (i == 0 || !isLower(s[i-1]) || true) {
				rest := s[i+len(w):]
				if rest == "" || isUpper(rest[0]) || rest[0] >= '0' && rest[0] <= '9' || rest == "s" || len(rest) > 1 && rest[0] == 's' && isUpper(rest[1]) {
					if i == 0 || isLower(s[i-1]) || s[i-1] >= '0' && s[i-1] <= '9' || isUpper(s[i-1]) {
						b.WriteString(up)
						i += len(w)
						continue
					}
				}
			}
			b.WriteByte(s[i])
			i++
		}
		s = b.String()
	}
	return s
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// resolve names every field and struct of m.
func resolve(m *Message) error {
	seen := map[string]*Struct{}
	var walk func(fs []*Field, top bool) error
	walk = func(fs []*Field, top bool) error {
		names := map[string]bool{}
		for _, f := range fs {
			f.GoName = goName(f.Name)
			switch f.GoName {
			case "Default", "AppendTo", "Decode", "Format", "UnknownTags":
				return fmt.Errorf("%s: field %s collides with a generated method", m.Name, f.Name)
			case "APIKey", "IsRequest", "IsResponse":
				if top {
					return fmt.Errorf("%s: field %s collides with a generated method", m.Name, f.Name)
				}
			}
			if names[f.GoName] {
				return fmt.Errorf("%s: duplicate field %s", m.Name, f.GoName)
			}
			names[f.GoName] = true
			if len(f.Fields) == 0 && !isPrimitive(strings.TrimPrefix(f.Type, "[]")) {
				return fmt.Errorf("%s: struct field %s has no fields", m.Name, f.Name)
			}
			if len(f.Fields) == 0 {
				continue
			}
			// Nested types are named <Message><Type>; a spec type that
			// already starts with the message name (MetadataResponseTopic in
			// MetadataResponse) is used as is rather than stuttering.
			tn := goName(strings.TrimPrefix(f.Type, "[]"))
			if !strings.HasPrefix(tn, m.Name) {
				tn = m.Name + tn
			}
			if s, ok := seen[tn]; ok {
				// commonStructs are used more than once; the first use
				// (already merged) defines the type.
				f.Struct = s
				continue
			}
			s := &Struct{GoName: tn, Fields: f.Fields, Msg: m}
			seen[tn] = s
			f.Struct = s
			m.Structs = append(m.Structs, s)
			if err := walk(f.Fields, false); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(m.Fields, true)
}

func loadMessages(specs, oldSpecs string) ([]*Message, error) {
	// oldSpecs lists older releases newest first (4.3.1,3.9.2). They are
	// merged from the oldest up: each release serves its own versions and
	// the versions below its floor come from the releases before it, so
	// the result serves the union and a version a newer release dropped
	// keeps the shape its last release gave it.
	dirs := []string{specs}
	for _, d := range strings.Split(oldSpecs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	// older holds the merged messages of the releases seen so far by API:
	// an old spec belongs to the newer spec with the same API key and
	// kind, whatever its name (Kafka 4.x renamed key 74 from
	// ListClientMetricsResources to ListConfigResources, and one key must
	// give one set of types, named as the newest release names them).
	// Headers have no key and match by name.
	var older map[string]*Message
	for i := len(dirs) - 1; i >= 0; i-- {
		specs, err := readSpecs(dirs[i])
		if err != nil {
			return nil, err
		}
		cur := map[string]*Message{}
		for _, s := range specs {
			m, err := convertSpec(s)
			if err != nil {
				return nil, err
			}
			if om, ok := older[specAPI(s)]; ok {
				if err := mergeOld(m, om); err != nil {
					return nil, err
				}
			}
			cur[specAPI(s)] = m
		}
		// APIs an older release had and this one dropped entirely.
		for k, om := range older {
			if _, ok := cur[k]; !ok {
				om.CurValid = 0
				cur[k] = om
			}
		}
		older = cur
	}
	var out []*Message
	for _, m := range older {
		if m.Valid == 0 {
			continue // no release has a version of it
		}
		if err := resolve(m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// specAPI identifies what a spec describes across releases: the API key and
// kind ("74 request"), or the name for headers, which have no key.
func specAPI(s *jSpec) string {
	if s.APIKey == nil {
		return s.Name
	}
	return fmt.Sprintf("%d %s", *s.APIKey, s.Type)
}
