package server

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiHeaderLine is the first line of every api_NN_*.go file's behaviour
// header: "// Produce (key 0): versions 0-13." or "... version 0.".
var apiHeaderLine = regexp.MustCompile(`(?m)^// (\w+) \(key (\d+)\): versions? (\d+)(?:-(\d+))?\.$`)

// apiHeaderSections are the sections of a behaviour header, in the order
// they appear, each a heading line of its own with at least one "  - " item:
// Behaviour always, Version notes when more than one version is served,
// and where Spool differs from Kafka always ("None known" only once every
// field of the versions served was checked).
var apiHeaderSections = []struct {
	heading      string
	multiVersion bool // required only when more than one version is served
}{
	{"// Behaviour:", false},
	{"// Version notes:", true},
	{"// Where Spool differs from Kafka 4.3:", false},
}

// TestAPIFileHeaders checks that every API this broker serves has its
// api_NN_*.go file, that the file opens with a behaviour header (versions
// served, then the sections of apiHeaderSections, in their order, within
// the header's comment block), and that the versions it states are the
// ones ApiVersions advertises. A new API key needs its file and header; a
// version change needs its header updated.
func TestAPIFileHeaders(t *testing.T) {
	e := newAdminEnv(t)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(e.ctx, e.cl)
	require.NoError(t, err)
	require.Zero(t, resp.ErrorCode)
	served := map[int]kmsg.ApiVersionsResponseApiKey{}
	for _, k := range resp.ApiKeys {
		served[int(k.ApiKey)] = k
	}

	files, err := filepath.Glob("api_[0-9][0-9]_*.go")
	require.NoError(t, err)
	documented := map[int]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		m := apiHeaderLine.FindSubmatch(src)
		require.NotNil(t, m, "%s: no behaviour header (// Name (key N): versions A-B.) after the imports", f)
		key, _ := strconv.Atoi(string(m[2]))
		minV, _ := strconv.Atoi(string(m[3]))
		maxV := minV
		if len(m[4]) > 0 {
			maxV, _ = strconv.Atoi(string(m[4]))
		}
		require.Equal(t, fmt.Sprintf("api_%02d_", key), f[:7], "%s: header names key %d", f, key)
		require.NotContains(t, documented, key, "%s: key %d already documented in %s", f, key, documented[key])
		documented[key] = f
		checkAPIHeaderSections(t, f, headerBlock(src, m), maxV > minV)
		k, ok := served[key]
		require.True(t, ok, "%s: key %d is not served (ApiVersions does not list it)", f, key)
		require.Equal(t, [2]int{int(k.MinVersion), int(k.MaxVersion)}, [2]int{minV, maxV},
			"%s: header says versions %d-%d, ApiVersions advertises %d-%d", f, minV, maxV, k.MinVersion, k.MaxVersion)
	}
	for key := range served {
		require.Contains(t, documented, key, "API key %d is served but has no api_%02d_*.go file with a behaviour header", key, key)
	}
}

// headerBlock is the behaviour header: the comment lines from the header
// line m matched up to the first line that is not a comment.
func headerBlock(src []byte, m [][]byte) []string {
	start := bytes.Index(src, m[0])
	var block []string
	for _, line := range strings.Split(string(src[start:]), "\n") {
		if !strings.HasPrefix(line, "//") {
			break
		}
		block = append(block, line)
	}
	return block
}

// sectionHeading is a section's heading line in a behaviour header.
var sectionHeading = regexp.MustCompile(`^// [A-Z][A-Za-z0-9. ]*:$`)

// checkAPIHeaderSections requires apiHeaderSections in header, each once,
// in order and with an item after it.
func checkAPIHeaderSections(t *testing.T, f string, header []string, multiVersion bool) {
	t.Helper()
	last := -1
	for _, sec := range apiHeaderSections {
		at := slices.Index(header, sec.heading)
		if at < 0 {
			if sec.multiVersion && !multiVersion {
				continue
			}
			require.Failf(t, "missing header section", "%s: the behaviour header has no %q section", f, sec.heading)
		}
		require.Greater(t, at, last, "%s: %q is out of order (Behaviour, Version notes, Where Spool differs)", f, sec.heading)
		require.Equal(t, -1, slices.Index(header[at+1:], sec.heading), "%s: %q twice", f, sec.heading)
		items := false
		for _, line := range header[at+1:] {
			if sectionHeading.MatchString(line) {
				break
			}
			items = items || strings.HasPrefix(line, "//   - ")
		}
		require.True(t, items, "%s: the %q section has no item (\"//   - ...\")", f, sec.heading)
		last = at
	}
}
