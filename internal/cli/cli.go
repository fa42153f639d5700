package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Exit codes: 0 success, 1 a failed operation (or an unhealthy cluster for
// `cluster health` and `healthcheck`), 2 a usage error.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// Env is the process environment a command runs in; tests pass their own.
type Env struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Getenv  func(string) string
	Environ func() []string // KAFKA_* variables for `format` and `healthcheck`
}

// command is one `spool <group> <verb>` (or `spool <verb>`).
type command struct {
	name  string
	usage string // one line: arguments and what it does
	run   func(ctx context.Context, e *Env, args []string) int
}

// Commands lists the admin commands; Main dispatches to them. Each parses
// its own flags (common ones: --bootstrap-server, --command-config,
// --output, --timeout). It is filled in init: the commands' usage text
// refers back to the table.
var commands []command

func init() {
	commands = []command{
		{"format", "--config FILE [--cluster-id ID] [--ignore-formatted] | random-uuid   write meta.properties into every log dir (kafka-storage.sh format)", runFormat},
		{"topic create", "NAME... [-p N] [-r N] [-c k=v]... [--if-not-exists]   create topics", runTopicCreate},
		{"topic list", "[--exclude-internal]   list topics", runTopicList},
		{"topic describe", "[NAME...] [--under-replicated-partitions] [--unavailable-partitions]   partitions, leaders, replicas, ISR and configs", runTopicDescribe},
		{"topic alter", "NAME [-p N] [-c k=v]... [--delete-config k]...   add partitions, set or delete topic configs", runTopicAlter},
		{"topic delete", "NAME... [--if-exists]   delete topics", runTopicDelete},
		{"group list", "   list consumer groups with their state", runGroupList},
		{"group describe", "GROUP...   offsets and lag per partition (kafka-consumer-groups --describe)", runGroupDescribe},
		{"group lag", "GROUP... [--samples N] [--interval 1s]   Burrow's lag evaluation (OK/WARN/STALL/REWIND per partition, OK/WARN/ERR per group); exit 1 on ERR", runGroupLag},
		{"group reset-offsets", "GROUP --topic T[:P,...] (--to-earliest|--to-latest|--to-offset N|--shift-by N) [--execute]   reset committed offsets (dry run unless --execute)", runGroupReset},
		{"group delete", "GROUP...   delete empty groups", runGroupDelete},
		{"reassign", "TOPIC:PARTITION=B1,B2,...  [--throttle BYTES/s] [--no-wait] | --cancel TOPIC:PARTITION... | --list   move replicas (kafka-reassign-partitions), with progress until done", runReassign},
		{"metadata dump", "DIR [--output table|json]   print a node's metadata log: newest snapshot, then each entry (kafka-dump-log --cluster-metadata-decoder); read-only", runMetadataDump},
		{"cluster info", "   cluster id, controller and brokers", runClusterInfo},
		{"cluster health", "   controller, brokers, under-replicated and offline partitions; exit 1 when unhealthy", runClusterHealth},
		{"healthcheck", "   is the local node serving? For container HEALTHCHECKs; exit 1 when not", runHealthcheck},
		{"produce", "TOPIC [-p N] [--key K | --key-separator S] [--acks -1|1]   one record per stdin line", runProduce},
		{"consume", "TOPIC [-p N] [--offset start|end|N] [-n N] [--follow]   print records (to the end of the partitions unless --follow)", runConsume},
	}
}

// IsCommand reports whether args start with an admin command, so main can
// route to Main.
func IsCommand(name string) bool {
	for _, c := range commands {
		if strings.SplitN(c.name, " ", 2)[0] == name {
			return true
		}
	}
	return false
}

// Usage writes the admin commands' summary.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Admin commands (Kafka protocol, no JVM; common flags: --bootstrap-server HOST:PORT,")
	fmt.Fprintln(w, "--command-config client.properties, --output table|json, --timeout 30s):")
	for _, c := range commands {
		fmt.Fprintf(w, "  spool %s %s\n", c.name, c.usage)
	}
}

// Main runs one admin command and returns its exit code. SIGINT and
// SIGTERM cancel it.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Run(ctx, &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ}, args)
}

// Run is Main with an explicit context and environment.
func Run(ctx context.Context, e *Env, args []string) int {
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 {
		Usage(e.Stderr)
		return exitUsage
	}
	for _, c := range commands {
		words := strings.Split(c.name, " ")
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c.run(ctx, e, args[len(words):])
		}
	}
	// A group name alone, or with an unknown verb: list that group's verbs.
	var verbs []string
	for _, c := range commands {
		if g, v, ok := strings.Cut(c.name, " "); ok && g == args[0] {
			verbs = append(verbs, v)
		}
	}
	if len(verbs) > 0 {
		if len(args) > 1 {
			fmt.Fprintf(e.Stderr, "spool %s: unknown command %q; use one of: %s\n", args[0], args[1], strings.Join(verbs, ", "))
		} else {
			fmt.Fprintf(e.Stderr, "spool %s: name a command: %s\n", args[0], strings.Join(verbs, ", "))
		}
		return exitUsage
	}
	fmt.Fprintf(e.Stderr, "spool: unknown command %q (run `spool help`)\n", args[0])
	return exitUsage
}

// common holds the flags every cluster command takes.
type common struct {
	bootstrap     string
	commandConfig string
	output        string
	timeout       time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bootstrap, "bootstrap-server", "", "comma-separated HOST:PORT list (default: bootstrap.servers from --command-config, $SPOOL_BOOTSTRAP_SERVER, the local node's listener when KAFKA_LISTENERS is set as in the container images, or localhost:9092)")
	fs.StringVar(&c.bootstrap, "b", "", "short for --bootstrap-server")
	fs.StringVar(&c.commandConfig, "command-config", "", "client properties file with Kafka's names (client.id, security.protocol, request.timeout.ms, bootstrap.servers)")
	fs.StringVar(&c.output, "output", "table", "output format: table or json")
	fs.StringVar(&c.output, "o", "table", "short for --output")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long")
}

// client builds a Client from the flags and the properties file.
func (c *common) client(e *Env) (*Client, error) {
	if c.output != "table" && c.output != "json" {
		return nil, usageErr(fmt.Errorf("--output %q: use table or json", c.output))
	}
	cfg := ClientConfig{RequestTimeout: c.timeout}
	props := map[string]string{}
	if c.commandConfig != "" {
		p, err := loadClientConfig(c.commandConfig)
		if err != nil {
			return nil, err
		}
		props = p
	}
	if err := applyClientProps(&cfg, props); err != nil {
		return nil, err
	}
	bs := c.bootstrap
	if bs == "" {
		bs = props["bootstrap.servers"]
	}
	if bs == "" {
		bs = e.Getenv("SPOOL_BOOTSTRAP_SERVER")
	}
	if bs == "" {
		bs = nodeListener(e)
	}
	if bs == "" {
		bs = "localhost:9092"
	}
	cfg.Bootstrap = splitBootstrap(bs)
	if len(cfg.Bootstrap) == 0 {
		return nil, usageErr(errors.New("--bootstrap-server is empty: pass HOST:PORT"))
	}
	return NewClient(cfg), nil
}

// usageError marks an error that is the caller's invocation (exit 2).
type usageError struct{ error }

func usageErr(err error) error { return usageError{err} }

// parse parses args with flags anywhere among the positional arguments
// (rpk's style: `spool topic create orders -p 6`), returning the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" (consumed) or at the first non-flag.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlags makes a FlagSet whose errors go to e.Stderr with the command's usage.
func newFlags(e *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("spool "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		for _, c := range commands {
			if c.name == name {
				fmt.Fprintf(e.Stderr, "Usage: spool %s %s\n\nFlags:\n", c.name, c.usage)
			}
		}
		fs.PrintDefaults()
	}
	return fs
}

// fail prints err with the command's name and returns its exit code.
func fail(e *Env, name string, err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.Stderr, "spool %s: %v\n", name, err)
		return exitUsage
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: the cluster did not answer in time; raise --timeout or check `spool cluster health`", err)
	}
	fmt.Fprintf(e.Stderr, "spool %s: %v\n", name, err)
	return exitFail
}

// setup parses flags, builds the client and the command's context.
type setup struct {
	common
	fs   *flag.FlagSet
	name string
	e    *Env
}

func newSetup(e *Env, name string) *setup {
	s := &setup{fs: newFlags(e, name), name: name, e: e}
	s.common.register(s.fs)
	return s
}

// flagError is a flag parse error the flag package already printed.
type flagError struct{ error }

// start parses args and returns the positional arguments, a client and a
// context bounded by --timeout, with the function that releases both.
func (s *setup) start(ctx context.Context, args []string) ([]string, *Client, context.Context, func(), error) {
	pos, err := parse(s.fs, args)
	if err != nil {
		return nil, nil, nil, nil, flagError{err}
	}
	cl, err := s.client(s.e)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	return pos, cl, cctx, func() { cancel(); cl.Close() }, nil
}

// exit reports err (if any) and returns the exit code for it.
func (s *setup) exit(err error) int {
	var fe flagError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &fe):
		return exitUsage
	}
	return fail(s.e, s.name, err)
}

// table writes rows under a header with aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(anySlice(header)...)
	}
	return t
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (t *table) row(cols ...any) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c)
	}
	fmt.Fprintln(t.tw)
}

func (t *table) flush() { _ = t.tw.Flush() }

// writeJSON prints v indented.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseConfigs turns k=v flags into a map, refusing malformed ones.
func parseConfigs(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageErr(fmt.Errorf("--config %q: write it as name=value", kv))
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
