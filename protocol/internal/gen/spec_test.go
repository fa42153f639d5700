package main

import (
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
