package controller

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/quota"
)

func fp(v float64) *float64 { return &v }

func ent(kv ...string) []QuotaEntityData {
	var out []QuotaEntityData
	for i := 0; i < len(kv); i += 2 {
		d := QuotaEntityData{EntityType: kv[i]}
		if kv[i+1] != "<default>" {
			d.EntityName = strp(kv[i+1])
		}
		out = append(out, d)
	}
	return out
}

func TestClientQuotaRecordRoundTrip(t *testing.T) {
	recs := []Record{
		&ClientQuotaRecord{Entity: ent("user", "alice", "client-id", "<default>"), Key: quota.ProducerByteRate, Value: 1048576},
		&ClientQuotaRecord{Entity: ent("ip", "10.0.0.1"), Key: quota.ConnectionCreationRate, Remove: true},
		&ClientQuotaRecord{Entity: ent("client-id", "x"), Key: quota.RequestPercentage, Value: 0.25},
	}
	got, err := DecodeBatch(EncodeBatch(recs))
	require.NoError(t, err)
	require.Equal(t, recs, got)
}

// TestClientQuotaImage: records set and remove keys, an entity without keys
// disappears, unknown entity types are refused, and snapshots keep quotas.
func TestClientQuotaImage(t *testing.T) {
	f := newFSM("c")
	require.NoError(t, applyBatch(t, f, 1,
		&ClientQuotaRecord{Entity: ent("client-id", "app"), Key: quota.ProducerByteRate, Value: 1000},
		&ClientQuotaRecord{Entity: ent("client-id", "app"), Key: quota.ConsumerByteRate, Value: 2000},
		&ClientQuotaRecord{Entity: ent("user", "<default>"), Key: quota.RequestPercentage, Value: 50},
	))
	app := quota.Entity{ClientID: quota.Name("app")}
	require.Equal(t, map[quota.Entity]map[string]float64{
		app:                       {quota.ProducerByteRate: 1000, quota.ConsumerByteRate: 2000},
		{User: quota.DefaultName}: {quota.RequestPercentage: 50},
	}, f.image.Load().ClientQuotas())
	before := f.image.Load()
	require.Error(t, applyBatch(t, f, 2, &ClientQuotaRecord{Entity: ent("group", "g"), Key: "k", Value: 1}))
	require.Error(t, applyBatch(t, f, 2, &ClientQuotaRecord{Key: "k", Value: 1}))
	require.Same(t, before, f.image.Load())

	require.NoError(t, applyBatch(t, f, 3,
		&ClientQuotaRecord{Entity: ent("client-id", "app"), Key: quota.ProducerByteRate, Remove: true}))
	require.Equal(t, map[string]float64{quota.ConsumerByteRate: 2000}, f.image.Load().ClientQuotas()[app])
	require.Equal(t, map[string]float64{quota.ProducerByteRate: 1000, quota.ConsumerByteRate: 2000}, before.ClientQuotas()[app],
		"older images are untouched")
	require.NoError(t, applyBatch(t, f, 4,
		&ClientQuotaRecord{Entity: ent("client-id", "app"), Key: quota.ConsumerByteRate, Remove: true}))
	require.NotContains(t, f.image.Load().ClientQuotas(), app)

	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufSink{}
	require.NoError(t, snap.Persist(sink))
	g := newFSM("c")
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, f.image.Load().ClientQuotas(), g.image.Load().ClientQuotas())
}

// TestAlterClientQuotasValidation: Kafka's ClientQuotaControlManager
// verdicts and messages, entity by entity.
func TestAlterClientQuotasValidation(t *testing.T) {
	c := openController(t, soleConfig(t, t.TempDir()))
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		entity []QuotaEntityData
		ops    []QuotaOp
		err    string // "" for success
	}{
		{"client-id", ent("client-id", "app"), []QuotaOp{{quota.ProducerByteRate, fp(1024)}}, ""},
		{"user default", ent("user", "<default>"), []QuotaOp{{quota.RequestPercentage, fp(12.5)}}, ""},
		{"user and client", ent("user", "alice", "client-id", "<default>"), []QuotaOp{{quota.ControllerMutationRate, fp(0.5)}}, ""},
		{"ip", ent("ip", "192.0.2.1"), []QuotaOp{{quota.ConnectionCreationRate, fp(10)}}, ""},
		{"ip default", ent("ip", "<default>"), []QuotaOp{{quota.ConnectionCreationRate, fp(100)}}, ""},
		{"empty entity", nil, []QuotaOp{{quota.ProducerByteRate, fp(1)}}, "Invalid empty client quota entity"},
		{"unknown type", ent("group", "g"), []QuotaOp{{quota.ProducerByteRate, fp(1)}}, "Unhandled client quota entity type: group"},
		{"empty name", ent("user", ""), []QuotaOp{{quota.ProducerByteRate, fp(1)}}, "Empty user not supported"},
		{"ip with user", ent("ip", "192.0.2.1", "user", "u"), []QuotaOp{{quota.ConnectionCreationRate, fp(1)}},
			"Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"},
		{"bad ip", ent("ip", "no-such-host.invalid"), []QuotaOp{{quota.ConnectionCreationRate, fp(1)}},
			"no-such-host.invalid is not a valid IP or resolvable host."},
		{"unknown key", ent("client-id", "app"), []QuotaOp{{"foo", fp(1)}}, "Invalid configuration key foo"},
		{"ip key on client", ent("client-id", "app"), []QuotaOp{{quota.ConnectionCreationRate, fp(1)}}, "Invalid configuration key connection_creation_rate"},
		{"client key on ip", ent("ip", "192.0.2.1"), []QuotaOp{{quota.ProducerByteRate, fp(1)}}, "Invalid configuration key producer_byte_rate"},
		{"zero", ent("client-id", "app"), []QuotaOp{{quota.ProducerByteRate, fp(0)}}, "Quota producer_byte_rate must be greater than 0"},
		{"negative double", ent("client-id", "app"), []QuotaOp{{quota.RequestPercentage, fp(-1)}}, "Quota request_percentage must be greater than 0"},
		{"fraction of a long", ent("client-id", "app"), []QuotaOp{{quota.ConsumerByteRate, fp(1.5)}}, "consumer_byte_rate cannot be a fractional value."},
		{"too large a long", ent("client-id", "app"), []QuotaOp{{quota.ProducerByteRate, fp(1e20)}}, "Proposed value for producer_byte_rate is too large for a LONG."},
		{"too large an int", ent("ip", "192.0.2.1"), []QuotaOp{{quota.ConnectionCreationRate, fp(3e9)}}, "Proposed value for connection_creation_rate is too large for an INT."},
		{"duplicate key", ent("client-id", "dup"), []QuotaOp{{quota.ProducerByteRate, fp(1)}, {quota.ProducerByteRate, fp(2)}},
			"Ignoring duplicate entity ClientQuotaEntity(entries={client-id=dup})"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.AlterClientQuotas(ctx, []QuotaAlteration{{Entity: tc.entity, Ops: tc.ops}}, false)
			require.Len(t, res, 1)
			if tc.err == "" {
				require.NoError(t, res[0].Err)
				return
			}
			require.ErrorIs(t, res[0].Err, ErrInvalidRequest)
			require.Equal(t, "controller: invalid request: "+tc.err, res[0].Err.Error())
		})
	}
	got := c.Image().ClientQuotas()
	require.Equal(t, 1024.0, got[quota.Entity{ClientID: quota.Name("app")}][quota.ProducerByteRate])
	require.Equal(t, 100.0, got[quota.Entity{IP: quota.DefaultName}][quota.ConnectionCreationRate])
	require.NotContains(t, got, quota.Entity{ClientID: quota.Name("dup")})
}

// TestAlterClientQuotasBatch: one request is one metadata batch;
// validate_only writes nothing; a repeated entity is reported as ignored
// after its first alteration applied; removing the last key removes the
// entity; components come back in Kafka's order.
func TestAlterClientQuotasBatch(t *testing.T) {
	c := openController(t, soleConfig(t, t.TempDir()))
	ctx := context.Background()
	offset := c.Image().Offset()
	res := c.AlterClientQuotas(ctx, []QuotaAlteration{
		{Entity: ent("user", "alice", "client-id", "app"), Ops: []QuotaOp{{quota.ProducerByteRate, fp(10)}}},
	}, true)
	require.NoError(t, res[0].Err)
	require.Equal(t, ent("client-id", "app", "user", "alice"), res[0].Entity, "Kafka's HashMap order")
	require.Equal(t, offset, c.Image().Offset(), "validate_only writes nothing")
	require.Empty(t, c.Image().ClientQuotas())

	res = c.AlterClientQuotas(ctx, []QuotaAlteration{
		{Entity: ent("client-id", "a"), Ops: []QuotaOp{{quota.ProducerByteRate, fp(10)}, {quota.ConsumerByteRate, fp(20)}}},
		{Entity: ent("client-id", "b"), Ops: []QuotaOp{{quota.ProducerByteRate, fp(0)}}},
		{Entity: ent("client-id", "a"), Ops: []QuotaOp{{quota.RequestPercentage, fp(5)}}},
	}, false)
	require.Len(t, res, 2)
	byName := map[string]error{}
	for _, r := range res {
		byName[*r.Entity[0].EntityName] = r.Err
	}
	require.EqualError(t, byName["a"], "controller: invalid request: Ignoring duplicate entity ClientQuotaEntity(entries={client-id=a})")
	require.ErrorIs(t, byName["b"], ErrInvalidRequest)
	require.Equal(t, map[quota.Entity]map[string]float64{
		{ClientID: quota.Name("a")}: {quota.ProducerByteRate: 10, quota.ConsumerByteRate: 20},
	}, c.Image().ClientQuotas(), "as in Kafka, the first alteration of a repeated entity is applied")

	offset = c.Image().Offset()
	res = c.AlterClientQuotas(ctx, []QuotaAlteration{
		{Entity: ent("client-id", "a"), Ops: []QuotaOp{{quota.ProducerByteRate, fp(10)}, {"never-set", nil}}},
	}, false)
	require.NoError(t, res[0].Err)
	require.Equal(t, offset, c.Image().Offset(), "unchanged values and absent removals write no record")

	res = c.AlterClientQuotas(ctx, []QuotaAlteration{
		{Entity: ent("client-id", "a"), Ops: []QuotaOp{{quota.ProducerByteRate, nil}, {quota.ConsumerByteRate, nil}}},
	}, false)
	require.NoError(t, res[0].Err)
	require.Empty(t, c.Image().ClientQuotas())
}

// TestDescribeClientQuotas: Kafka's ClientQuotasImage.describe filters.
func TestDescribeClientQuotas(t *testing.T) {
	f := newFSM("c")
	set := func(kv ...string) *ClientQuotaRecord {
		return &ClientQuotaRecord{Entity: ent(kv...), Key: quota.ProducerByteRate, Value: 1}
	}
	require.NoError(t, applyBatch(t, f, 1,
		set("user", "alice"), set("user", "<default>"), set("client-id", "app"),
		set("user", "alice", "client-id", "app"), set("user", "bob", "client-id", "<default>"),
		set("ip", "10.0.0.1"),
	))
	img := f.image.Load()
	exact := func(typ, name string) QuotaFilterComponent {
		return QuotaFilterComponent{EntityType: typ, MatchType: QuotaMatchExact, Match: strp(name)}
	}
	def := func(typ string) QuotaFilterComponent {
		return QuotaFilterComponent{EntityType: typ, MatchType: QuotaMatchDefault}
	}
	any := func(typ string) QuotaFilterComponent {
		return QuotaFilterComponent{EntityType: typ, MatchType: QuotaMatchSpecified}
	}
	for _, tc := range []struct {
		name   string
		filter []QuotaFilterComponent
		strict bool
		want   [][]QuotaEntityData
	}{
		{"all", nil, false, [][]QuotaEntityData{
			ent("ip", "10.0.0.1"), ent("client-id", "app"), ent("user", "<default>"), ent("user", "alice"),
			ent("client-id", "app", "user", "alice"), ent("client-id", "<default>", "user", "bob")}},
		{"strict nothing", nil, true, nil},
		{"user alice", []QuotaFilterComponent{exact("user", "alice")}, false, [][]QuotaEntityData{
			ent("user", "alice"), ent("client-id", "app", "user", "alice")}},
		{"user alice strict", []QuotaFilterComponent{exact("user", "alice")}, true, [][]QuotaEntityData{ent("user", "alice")}},
		{"default user", []QuotaFilterComponent{def("user")}, true, [][]QuotaEntityData{ent("user", "<default>")}},
		{"any user with any client (default included)", []QuotaFilterComponent{any("user"), any("client-id")}, true, [][]QuotaEntityData{
			ent("client-id", "app", "user", "alice"), ent("client-id", "<default>", "user", "bob")}},
		{"ip", []QuotaFilterComponent{any("ip")}, false, [][]QuotaEntityData{ent("ip", "10.0.0.1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := img.DescribeClientQuotas(tc.filter, tc.strict)
			require.NoError(t, err)
			var entities [][]QuotaEntityData
			for _, e := range got {
				entities = append(entities, e.Entity)
				require.Equal(t, map[string]float64{quota.ProducerByteRate: 1}, e.Values)
			}
			require.ElementsMatch(t, tc.want, entities)
		})
	}
	for _, tc := range []struct {
		filter []QuotaFilterComponent
		code   error
		msg    string
	}{
		{[]QuotaFilterComponent{{EntityType: "", MatchType: 2}}, ErrInvalidRequest, "Invalid empty entity type."},
		{[]QuotaFilterComponent{any("user"), def("user")}, ErrInvalidRequest, "Entity type user cannot appear more than once in the filter."},
		{[]QuotaFilterComponent{any("group")}, ErrUnsupportedVersion, "Unsupported entity type group"},
		{[]QuotaFilterComponent{{EntityType: "user", MatchType: QuotaMatchExact}}, ErrInvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null."},
		{[]QuotaFilterComponent{{EntityType: "user", MatchType: QuotaMatchDefault, Match: strp("x")}}, ErrInvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."},
		{[]QuotaFilterComponent{{EntityType: "user", MatchType: QuotaMatchSpecified, Match: strp("x")}}, ErrInvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."},
		{[]QuotaFilterComponent{{EntityType: "user", MatchType: 7}}, ErrInvalidRequest, "Unknown match type 7"},
		{[]QuotaFilterComponent{any("ip"), any("client-id")}, ErrInvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."},
	} {
		_, err := img.DescribeClientQuotas(tc.filter, false)
		require.ErrorIs(t, err, tc.code)
		require.Equal(t, tc.msg, err.Error()[len(tc.code.Error())+2:])
	}
}

// TestPartitionChangeQuota: CreateTopics, CreatePartitions and DeleteTopics
// charge the context's quota with each valid topic's partitions, and a
// refusal fails only that topic.
func TestPartitionChangeQuota(t *testing.T) {
	c := openController(t, soleConfig(t, t.TempDir()))
	registerBrokers(t, c, 1)
	var charged []int
	allow := 4
	ctx := WithPartitionChangeQuota(context.Background(), func(n int) error {
		charged = append(charged, n)
		if n > allow {
			return ErrThrottlingQuotaExceeded
		}
		allow -= n
		return nil
	})
	res := c.CreateTopics(ctx, []CreateTopic{
		{Name: "a", NumPartitions: 3, ReplicationFactor: 1},
		{Name: "bad name", NumPartitions: 100, ReplicationFactor: 1},
		{Name: "b", NumPartitions: 3, ReplicationFactor: 1},
	}, false)
	require.NoError(t, res[0].Err)
	require.Error(t, res[1].Err)
	require.ErrorIs(t, res[2].Err, ErrThrottlingQuotaExceeded)
	require.Equal(t, []int{3, 3}, charged, "invalid topics are not charged")
	require.NotNil(t, c.Image().Topic("a"))
	require.Nil(t, c.Image().Topic("b"))

	require.ErrorIs(t, c.CreatePartitions(ctx, "a", 5, nil, false), ErrThrottlingQuotaExceeded)
	allow = 2
	require.NoError(t, c.CreatePartitions(ctx, "a", 5, nil, false))
	require.Len(t, c.Image().Topic("a").Partitions, 5)

	del := c.DeleteTopics(ctx, []TopicRef{{Name: "a"}})
	require.True(t, errors.Is(del[0].Err, ErrThrottlingQuotaExceeded))
	allow = 5
	del = c.DeleteTopics(ctx, []TopicRef{{Name: "a"}})
	require.NoError(t, del[0].Err)
	require.Equal(t, []int{3, 3, 2, 2, 5, 5}, charged)
}
