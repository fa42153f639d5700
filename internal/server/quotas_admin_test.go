package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spool-broker/spool/quota"
)

func sp(s string) *string { return &s }

func quotaEntity(kv ...string) kadm.ClientQuotaEntity {
	var e kadm.ClientQuotaEntity
	for i := 0; i < len(kv); i += 2 {
		c := kadm.ClientQuotaEntityComponent{Type: kv[i]}
		if kv[i+1] != "<default>" {
			c.Name = sp(kv[i+1])
		}
		e = append(e, c)
	}
	return e
}

// setQuota sets quota keys (key, value, key, value...) on an entity.
func setQuota(t *testing.T, adm *kadm.Client, e kadm.ClientQuotaEntity, kv ...any) {
	t.Helper()
	var ops []kadm.AlterClientQuotaOp
	for i := 0; i < len(kv); i += 2 {
		ops = append(ops, kadm.AlterClientQuotaOp{Key: kv[i].(string), Value: kv[i+1].(float64)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: e, Ops: ops}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err, res[0].ErrMessage)
}

// describeQuotas returns entity → key → value for a filter.
func describeQuotas(t *testing.T, adm *kadm.Client, strict bool, comps ...kadm.DescribeClientQuotaComponent) map[string]map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := adm.DescribeClientQuotas(ctx, strict, comps)
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	for _, q := range got {
		kv := map[string]float64{}
		for _, v := range q.Values {
			kv[v.Key] = v.Value
		}
		out[q.Entity.String()] = kv
	}
	return out
}

// TestClientQuotasAdmin: AlterClientQuotas and DescribeClientQuotas as
// Kafka answers them (validate_only, strict filters, errors), and quotas
// that survive a restart and are enforced after it.
func TestClientQuotasAdmin(t *testing.T) {
	n := startTestNode(t)
	cl := newClient(t, n.addr)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	setQuota(t, adm, quotaEntity("client-id", "app"), quota.ProducerByteRate, 1048576.0, quota.ConsumerByteRate, 2097152.0)
	setQuota(t, adm, quotaEntity("user", "<default>"), quota.RequestPercentage, 200.0)
	setQuota(t, adm, quotaEntity("user", "alice", "client-id", "<default>"), quota.ControllerMutationRate, 10.0)
	setQuota(t, adm, quotaEntity("ip", "<default>"), quota.ConnectionCreationRate, 1000.0)

	all := describeQuotas(t, adm, false)
	require.Equal(t, map[string]map[string]float64{
		"{client-id=app}":                   {quota.ProducerByteRate: 1048576, quota.ConsumerByteRate: 2097152},
		"{user=<default>}":                  {quota.RequestPercentage: 200},
		"{client-id=<default>, user=alice}": {quota.ControllerMutationRate: 10},
		"{ip=<default>}":                    {quota.ConnectionCreationRate: 1000},
	}, all)
	require.Equal(t, map[string]map[string]float64{"{client-id=app}": {quota.ProducerByteRate: 1048576, quota.ConsumerByteRate: 2097152}},
		describeQuotas(t, adm, true, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchName: sp("app")}))
	require.Len(t, describeQuotas(t, adm, false, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 2}), 2,
		"any user: alice and the default")
	require.Len(t, describeQuotas(t, adm, true, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 2}), 1,
		"strict: only entities with nothing but a user")

	// validate_only answers as a write would, and writes nothing.
	res, err := adm.ValidateAlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: quotaEntity("client-id", "new"), Ops: []kadm.AlterClientQuotaOp{{Key: quota.ProducerByteRate, Value: 10}}},
		{Entity: quotaEntity("client-id", "bad"), Ops: []kadm.AlterClientQuotaOp{{Key: "foo", Value: 10}}},
	})
	require.NoError(t, err)
	byEntity := map[string]kadm.AlteredClientQuota{}
	for _, r := range res {
		byEntity[r.Entity.String()] = r
	}
	require.NoError(t, byEntity["{client-id=new}"].Err)
	require.ErrorIs(t, byEntity["{client-id=bad}"].Err, kerr.InvalidRequest)
	require.Equal(t, "Invalid configuration key foo", byEntity["{client-id=bad}"].ErrMessage)
	require.Len(t, describeQuotas(t, adm, false), 4)

	// Invalid filters are a top-level error.
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	comp := kmsg.NewDescribeClientQuotasRequestComponent()
	comp.EntityType, comp.MatchType = "group", 2
	req.Components = append(req.Components, comp)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.UnsupportedVersion.Code, resp.ErrorCode)
	require.Equal(t, "Unsupported entity type group", *resp.ErrorMessage)
	require.Nil(t, resp.Entries)

	// Removing the last key removes the entity.
	rm, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: quotaEntity("ip", "<default>"),
		Ops: []kadm.AlterClientQuotaOp{{Key: quota.ConnectionCreationRate, Remove: true}}}})
	require.NoError(t, err)
	require.NoError(t, rm[0].Err)
	require.Len(t, describeQuotas(t, adm, false), 3)

	cl.Close()
	n.restart()
	adm = kadm.NewClient(newClient(t, n.addr))
	after := describeQuotas(t, adm, false)
	delete(all, "{ip=<default>}")
	require.Equal(t, all, after, "quotas survive a restart")
	q := n.server.quotas
	q.follow(n.broker.image.Load())
	b, ok := q.clients.Bound(quota.Produce, quota.Client{User: "ANONYMOUS", ClientID: "app"})
	require.True(t, ok)
	require.Equal(t, 1048576.0, b, "and are enforced after it")
}

// TestDescribeUserScramCredentialsWithoutStore: kafka-configs.sh
// --describe --entity-type users asks for SCRAM credentials; with none
// stored every user is RESOURCE_NOT_FOUND, as on Kafka.
func TestDescribeUserScramCredentialsWithoutStore(t *testing.T) {
	n := startTestNode(t)
	cl := newClient(t, n.addr)
	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, u := range []string{"alice", "bob", "bob"} {
		un := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		un.Name = u
		req.Users = append(req.Users, un)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Results, 2)
	require.Equal(t, kerr.ResourceNotFound.Code, resp.Results[0].ErrorCode)
	require.Equal(t, "Attempt to describe a user credential that does not exist: alice", *resp.Results[0].ErrorMessage)
	require.Equal(t, kerr.DuplicateResource.Code, resp.Results[1].ErrorCode)
	all := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	resp, err = all.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Empty(t, resp.Results)
}
