package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	specs := flag.String("specs", "", "directory with the current release's common/message/*.json")
	oldSpecs := flag.String("old-specs", "", "directory with the old release's specs (versions below the current floor)")
	errorsCSV := flag.String("errors", "", "errors.csv dumped from Kafka's Errors table")
	out := flag.String("out", "protocol", "output directory (errcode goes into OUT/errcode)")
	flag.Parse()
	if err := run(*specs, *oldSpecs, *errorsCSV, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(specs, oldSpecs, errorsCSV, out string) error {
	if specs == "" {
		return fmt.Errorf("-specs is required")
	}
	msgs, err := loadMessages(specs, oldSpecs)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	byFile := map[string][]*Message{}
	var fileOrder []string
	for _, m := range msgs {
		var fn string
		if m.Kind == "header" {
			fn = "zz_headers_gen.go"
		} else {
			base := strings.TrimSuffix(strings.TrimSuffix(m.Name, "Request"), "Response")
			fn = fmt.Sprintf("zz_%02d_%s_gen.go", m.Key, snake(base))
		}
		if _, ok := byFile[fn]; !ok {
			fileOrder = append(fileOrder, fn)
		}
		byFile[fn] = append(byFile[fn], m)
	}
	for _, fn := range fileOrder {
		ms := byFile[fn]
		sort.Slice(ms, func(i, j int) bool { return ms[i].Name > ms[j].Name }) // Request before Response
		var body strings.Builder
		fmtNeeded := false
		for _, m := range ms {
			e := &emitter{m: m}
			e.message()
			body.WriteString(e.b.String())
			fmtNeeded = fmtNeeded || needsFmt(m)
		}
		src := header + "package protocol\n\nimport (\n"
		if fmtNeeded {
			src += "\"fmt\"\n\"io\"\n"
		}
		src += "\n\"github.com/spool-broker/spool/protocol/wire\"\n)\n\n" + body.String()
		files[fn] = []byte(src)
	}
	files["zz_apis_gen.go"] = []byte(apisFile(msgs))

	errSrc, err := errcodeFile(errorsCSV, specs)
	if err != nil {
		return err
	}
	files[filepath.Join("errcode", "zz_errcode_gen.go")] = []byte(errSrc)

	for name, src := range files {
		formatted, err := format.Source(src)
		if err != nil {
			dump := filepath.Join(os.TempDir(), "spool-gen-"+filepath.Base(name))
			_ = os.WriteFile(dump, src, 0o644)
			return fmt.Errorf("gofmt %s: %w (unformatted source in %s)", name, err, dump)
		}
		files[name] = formatted
	}
	for _, dir := range []string{out, filepath.Join(out, "errcode")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		stale, _ := filepath.Glob(filepath.Join(dir, "zz_*_gen.go"))
		for _, s := range stale {
			rel, _ := filepath.Rel(out, s)
			if _, ok := files[rel]; !ok {
				if err := os.Remove(s); err != nil {
					return err
				}
			}
		}
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(out, name), src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func snake(s string) string {
	s = goName(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			if i > 0 && (isLower(s[i-1]) || i+1 < len(s) && isLower(s[i+1]) && isUpper(s[i-1])) {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func apisFile(msgs []*Message) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("%spackage protocol\n", header)
	// Entity types.
	var ents []string
	for _, name := range entityTypes {
		if u, ok := entityUnderlying[name]; ok {
			ents = append(ents, name+" "+u)
		}
	}
	sort.Strings(ents)
	entDoc := map[string]string{
		"TopicName":       "is a topic's name (entityType topicName).",
		"GroupID":         "is a consumer group's id (entityType groupId).",
		"TransactionalID": "is a transactional producer's id (entityType transactionalId).",
		"ProducerID":      "is an idempotent producer's id (entityType producerId).",
		"BrokerID":        "is a broker's or controller's node id (entityType brokerId).",
	}
	for _, e := range ents {
		name := strings.Fields(e)[0]
		p("// %s %s", name, entDoc[name])
		p("type %s\n", e)
	}
	type api struct{ req, resp *Message }
	apis := map[int]*api{}
	var keys []int
	for _, m := range msgs {
		if m.Key < 0 {
			continue
		}
		a, ok := apis[m.Key]
		if !ok {
			a = &api{}
			apis[m.Key] = a
			keys = append(keys, m.Key)
		}
		if m.Kind == "request" {
			a.req = m
		} else {
			a.resp = m
		}
	}
	sort.Ints(keys)
	p("// API keys.")
	p("const (")
	for _, k := range keys {
		p("Key%s int16 = %d", apiName(apis[k].req), k)
	}
	p(")\n")
	p("// APIs lists every API key Spool has messages for, by key.")
	p("var APIs = []APIInfo{")
	for _, k := range keys {
		a := apis[k]
		req := a.req
		if a.resp == nil {
			panic("no response for " + req.Name)
		}
		valid := req.Valid & a.resp.Valid
		flexFrom := -1
		if f := req.Flexible & valid; f != 0 {
			flexFrom = f.lo()
		}
		curMin := -1
		if req.CurValid != 0 {
			curMin = req.CurValid.lo()
		}
		var ls []string
		for _, l := range req.Listeners {
			switch l {
			case "broker":
				ls = append(ls, "ListenerBroker")
			case "controller":
				ls = append(ls, "ListenerController")
			case "zkBroker":
				ls = append(ls, "ListenerZKBroker")
			}
		}
		lsExpr := "0"
		if len(ls) > 0 {
			lsExpr = strings.Join(ls, "|")
		}
		p("{Key: %d, Name: %q, MinVersion: %d, MaxVersion: %d, CurrentMinVersion: %d, FlexibleFrom: %d, Listeners: %s, LatestVersionUnstable: %v},",
			k, apiName(req), valid.lo(), valid.hi(), curMin, flexFrom, lsExpr, req.Unstable)
	}
	p("}\n")
	p("// NewRequest returns a new request with defaults set for key, or nil if the key is unknown.")
	p("func NewRequest(key int16) Request {")
	p("switch key {")
	for _, k := range keys {
		p("case %d:", k)
		p("m := new(%s)", apis[k].req.Name)
		p("m.Default()")
		p("return m")
	}
	p("}")
	p("return nil")
	p("}\n")
	p("// NewResponse returns a new response with defaults set for key, or nil if the key is unknown.")
	p("func NewResponse(key int16) Response {")
	p("switch key {")
	for _, k := range keys {
		p("case %d:", k)
		p("m := new(%s)", apis[k].resp.Name)
		p("m.Default()")
		p("return m")
	}
	p("}")
	p("return nil")
	p("}")
	return b.String()
}

func apiName(req *Message) string { return strings.TrimSuffix(req.Name, "Request") }

// readErrors reads code,name,retriable,...,message rows by header name.
func readErrors(path string) ([][4]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, need := range []string{"code", "name", "retriable", "message"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no %q column", path, need)
		}
	}
	var rows [][4]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return rec[i]
			}
			return ""
		}
		rows = append(rows, [4]string{get("code"), get("name"), get("retriable"), get("message")})
	}
	return rows, nil
}

func errcodeFile(path, specs string) (string, error) {
	if path == "" {
		path = filepath.Join(specs, "errors.csv")
	}
	if _, err := os.Stat(path); err != nil {
		fallback := filepath.Join("..", "shared", "kafka-protocol", "errors.csv")
		fmt.Fprintf(os.Stderr, "gen: %s is missing; falling back to %s (a pre-4.0 snapshot: newer error codes will be absent)\n", path, fallback)
		path = fallback
	}
	rows, err := readErrors(path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("%spackage errcode\n", header)
	p("// Kafka error codes.")
	p("const (")
	for _, r := range rows {
		p("%s int16 = %s", constName(r[1]), r[0])
	}
	p(")\n")
	p("var table = map[int16]info{")
	for _, r := range rows {
		retriable, _ := strconv.ParseBool(r[2])
		p("%s: {name: %q, message: %q, retriable: %v},", constName(r[1]), r[1], r[3], retriable)
	}
	p("}")
	return b.String(), nil
}

func constName(s string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(s), "_") {
		if w == "" {
			continue
		}
		switch w {
		case "id", "api", "sasl", "acl", "ssl", "url", "crc", "uuid", "kip", "io":
			b.WriteString(strings.ToUpper(w))
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
