package server

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiHeaderLine is the first line of every api_NN_*.go file's behaviour
// header: "// Produce (key 0): versions 0-13." or "... version 0.".
var apiHeaderLine = regexp.MustCompile(`(?m)^// (\w+) \(key (\d+)\): versions? (\d+)(?:-(\d+))?\.$`)

// TestAPIFileHeaders checks that every API this broker serves has its
// api_NN_*.go file, that the file opens with a behaviour header (versions
// served, then a Behaviour section), and that the versions it states are
// the ones ApiVersions advertises. A new API key needs its file and header;
// a version change needs its header updated.
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
		require.Regexp(t, `(?m)^// Behaviour:$`, string(src), "%s: header has no Behaviour section", f)
		k, ok := served[key]
		require.True(t, ok, "%s: key %d is not served (ApiVersions does not list it)", f, key)
		require.Equal(t, [2]int{int(k.MinVersion), int(k.MaxVersion)}, [2]int{minV, maxV},
			"%s: header says versions %d-%d, ApiVersions advertises %d-%d", f, minV, maxV, k.MinVersion, k.MaxVersion)
	}
	for key := range served {
		require.Contains(t, documented, key, "API key %d is served but has no api_%02d_*.go file with a behaviour header", key, key)
	}
}
