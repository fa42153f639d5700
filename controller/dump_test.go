package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDumpMetadataLog reads a live controller's directory: the newest
// snapshot (as the records that rebuild it), then the entries after it,
// without changing the files.
func TestDumpMetadataLog(t *testing.T) {
	ctx := context.Background()
	cfg := soleConfig(t, t.TempDir())
	c := openController(t, cfg)
	registerBrokers(t, c, 1)
	res := c.CreateTopics(ctx, []CreateTopic{{Name: "before", NumPartitions: 1, ReplicationFactor: 1}}, false)
	require.NoError(t, res[0].Err)
	require.NoError(t, c.Snapshot())
	res = c.CreateTopics(ctx, []CreateTopic{{Name: "after", NumPartitions: 2, ReplicationFactor: 1}}, false)
	require.NoError(t, res[0].Err)

	var entries []MetadataEntry
	require.NoError(t, DumpMetadataLog(cfg.Dir, func(e MetadataEntry) error {
		entries = append(entries, e)
		return nil
	}))
	require.NotEmpty(t, entries)
	require.Equal(t, "snapshot", entries[0].Kind)
	topics := map[string]string{} // name → where it was seen
	for _, e := range entries {
		require.Empty(t, e.Error)
		for _, r := range e.Records {
			if tr, ok := r.Data.(*TopicRecord); ok {
				require.Equal(t, "TopicRecord", r.Type)
				topics[tr.Name] = e.Kind
			}
		}
	}
	require.Equal(t, map[string]string{"before": "snapshot", "after": "records"}, topics)
	last := entries[len(entries)-1]
	require.Equal(t, c.Image().Offset(), last.Index, "the dump reaches the last applied entry")

	text, err := TopicID(res[0].TopicID).MarshalText()
	require.NoError(t, err)
	require.Len(t, text, 22, "Kafka's UUID form")
	require.ErrorContains(t, DumpMetadataLog(cfg.Dir+"/missing", func(MetadataEntry) error { return nil }), "__cluster_metadata")
}
