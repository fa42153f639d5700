package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersions(t *testing.T) {
	all, err := parseVersions("0-13")
	require.NoError(t, err)
	for _, tc := range []struct{ in, cond string }{
		{"0+", "true"},
		{"3+", "v >= 3"},
		{"0-2", "v <= 2"},
		{"5", "v == 5"},
		{"4-7", "v >= 4 && v <= 7"},
		{"none", "false"},
	} {
		s, err := parseVersions(tc.in)
		require.NoError(t, err)
		require.Equal(t, tc.cond, s.cond(all), tc.in)
	}
	_, err = parseVersions("3-1")
	require.Error(t, err)
	require.Equal(t, "(v <= 1) || (v >= 5)", (between(0, 1) | between(5, 20)).cond(all))
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"ClientId": "ClientID", "BrokerIds": "BrokerIDs", "ApiKey": "APIKey", "Idempotent": "Idempotent",
		"validateOnly": "ValidateOnly", "TopicId": "TopicID", "IdsToRemove": "IDsToRemove",
	} {
		require.Equal(t, want, goName(in), in)
	}
}

func TestMergeReaddsOldOnlyFields(t *testing.T) {
	v := func(s string) vset { x, _ := parseVersions(s); return x }
	cur := []*Field{{Name: "A", Type: "int32", Versions: v("0+")}, {Name: "C", Type: "int32", Versions: v("0+")}}
	old := []*Field{{Name: "A", Type: "int32", Versions: v("0+")}, {Name: "B", Type: "int64", Versions: v("1")}, {Name: "C", Type: "int32", Versions: v("0+")}}
	out, err := mergeFields(cur, old, below(2), "T")
	require.NoError(t, err)
	require.Len(t, out, 3)
	require.Equal(t, []string{"A", "B", "C"}, []string{out[0].Name, out[1].Name, out[2].Name})
	require.Equal(t, v("1"), out[1].Versions)

	bad := []*Field{{Name: "A", Type: "string", Versions: v("0+")}}
	_, err = mergeFields([]*Field{{Name: "A", Type: "int32", Versions: v("0+")}}, bad, below(2), "T")
	require.Error(t, err)
}

// TestLoadMessagesMatchesOldSpecsByKey: an API renamed between releases
// (Kafka 4.x's ListConfigResources was 3.9's ListClientMetricsResources, key
// 74) yields one set of types under the current name, with the old release's
// lower versions merged in as for any other key.
func TestLoadMessagesMatchesOldSpecsByKey(t *testing.T) {
	write := func(dir, name, body string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644))
	}
	cur, old := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		dir, name, body string
	}{
		{cur, "NewNameRequest", `{"apiKey": 74, "type": "request", "name": "NewNameRequest", "validVersions": "1-2", "flexibleVersions": "0+",
			"fields": [{"name": "Kinds", "type": "[]int8", "versions": "2+"}]}`},
		{cur, "NewNameResponse", `{"apiKey": 74, "type": "response", "name": "NewNameResponse", "validVersions": "1-2", "flexibleVersions": "0+",
			"fields": [{"name": "ErrorCode", "type": "int16", "versions": "1+"}]}`},
		{old, "OldNameRequest", `{"apiKey": 74, "type": "request", "name": "OldNameRequest", "validVersions": "0-1", "flexibleVersions": "0+",
			"fields": []}`},
		// The old release's response had a field the new one dropped.
		{old, "OldNameResponse", `{"apiKey": 74, "type": "response", "name": "OldNameResponse", "validVersions": "0-1", "flexibleVersions": "0+",
			"fields": [{"name": "ErrorCode", "type": "int16", "versions": "0+"}, {"name": "Legacy", "type": "int32", "versions": "0"}]}`},
		// An API only the old release has is still generated.
		{old, "GoneRequest", `{"apiKey": 7, "type": "request", "name": "GoneRequest", "validVersions": "0-3", "fields": []}`},
		{old, "GoneResponse", `{"apiKey": 7, "type": "response", "name": "GoneResponse", "validVersions": "0-3", "fields": []}`},
	} {
		write(tc.dir, tc.name, tc.body)
	}
	msgs, err := loadMessages(cur, old)
	require.NoError(t, err)
	byName := map[string]*Message{}
	var names []string
	for _, m := range msgs {
		byName[m.Name] = m
		names = append(names, m.Name)
	}
	require.Equal(t, []string{"GoneRequest", "GoneResponse", "NewNameRequest", "NewNameResponse"}, names)

	req := byName["NewNameRequest"]
	require.Equal(t, between(0, 2), req.Valid, "old version 0 merged into the renamed request")
	require.Equal(t, between(1, 2), req.CurValid)
	resp := byName["NewNameResponse"]
	require.Equal(t, between(0, 2), resp.Valid)
	require.Equal(t, []string{"ErrorCode", "Legacy"}, []string{resp.Fields[0].Name, resp.Fields[1].Name})
	require.Equal(t, between(0, 2), resp.Fields[0].Versions&resp.Valid)
	require.Equal(t, between(0, 0), resp.Fields[1].Versions)
	require.Zero(t, byName["GoneRequest"].CurValid)
}
