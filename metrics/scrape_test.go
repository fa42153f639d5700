package metrics_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sample is one series of a scrape.
type sample struct {
	labels map[string]string
	value  float64
}

// scrape is a parsed /metrics page: series by name.
type scrape map[string][]sample

// parseScrape reads the Prometheus text format (what promhttp writes:
// one series per line, labels quoted with \\, \" and \n escapes).
func parseScrape(t testing.TB, r io.Reader) scrape {
	t.Helper()
	out := scrape{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		require.Positive(t, i, "line %q", line)
		name := line[:i]
		rest := line[i:]
		if rest[0] == '{' {
			rest = rest[1:]
			for rest[0] != '}' {
				eq := strings.IndexByte(rest, '=')
				k := rest[:eq]
				rest = rest[eq+2:] // ="
				var v strings.Builder
				for rest[0] != '"' {
					if rest[0] == '\\' {
						switch rest[1] {
						case 'n':
							v.WriteByte('\n')
						default:
							v.WriteByte(rest[1])
						}
						rest = rest[2:]
						continue
					}
					v.WriteByte(rest[0])
					rest = rest[1:]
				}
				s.labels[k] = v.String()
				rest = strings.TrimPrefix(rest[1:], ",")
			}
			rest = rest[1:]
		}
		f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		require.NoError(t, err, "line %q", line)
		s.value = f
		out[name] = append(out[name], s)
	}
	require.NoError(t, sc.Err())
	return out
}

func fetchScrape(t testing.TB, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return parseScrape(t, resp.Body)
}

// value is the sum of name's series whose labels include want.
func (s scrape) value(name string, want map[string]string) (float64, bool) {
	var sum float64
	found := false
	for _, x := range s[name] {
		ok := true
		for k, v := range want {
			if x.labels[k] != v {
				ok = false
			}
		}
		if ok {
			sum += x.value
			found = true
		}
	}
	return sum, found
}

var (
	docName = regexp.MustCompile("`([a-z][a-z0-9_]*)(\\{[^`]*\\})?`")
)

// documentedMetrics are the names docs/metrics.md marks with a status
// starting with one of statuses, from every table: the first cell's
// names, or the second's when the first holds an MBean.
func documentedMetrics(t testing.TB, statuses ...string) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 2 {
			continue
		}
		status := cells[len(cells)-1]
		match := false
		for _, s := range statuses {
			match = match || strings.HasPrefix(status, s)
		}
		if !match {
			continue
		}
		for _, cell := range cells[:2] {
			ms := docName.FindAllStringSubmatch(cell, -1)
			for _, m := range ms {
				out = append(out, m[1])
			}
			if len(ms) > 0 {
				break
			}
		}
	}
	return out
}

func TestDocumentedMetricsParse(t *testing.T) {
	names := documentedMetrics(t, "supported", "partial")
	require.Contains(t, names, "kafka_server_replicamanager_underreplicatedpartitions")
	require.Contains(t, names, "kafka_consumergroup_lag")
	require.Contains(t, names, "spool_storage_fsync_seconds")
	require.Contains(t, names, "kafka_server_raftmetrics_current_state")
	require.NotContains(t, names, "kafka_server_fetcherlagmetrics_consumerlag", "cluster-only names are checked by the cluster test")
	require.Greater(t, len(names), 60)
	require.Contains(t, documentedMetrics(t, "cluster"), "kafka_server_fetcherlagmetrics_consumerlag")
}
