package server

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestUpdateFeatures drives UpdateFeatures as kafka-features.sh does: a
// safe downgrade and an upgrade change what ApiVersions finalizes; a
// refusal is the top-level error with Kafka's message and no results.
func TestUpdateFeatures(t *testing.T) {
	e := newAdminEnv(t)
	update := func(version int16, validateOnly bool, name string, level int16, typ int8) *kmsg.UpdateFeaturesResponse {
		req := kmsg.NewPtrUpdateFeaturesRequest()
		req.Version = version
		req.ValidateOnly = validateOnly
		u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
		u.Feature, u.MaxVersionLevel, u.UpgradeType = name, level, typ
		u.AllowDowngrade = typ != 1
		req.FeatureUpdates = append(req.FeatureUpdates, u)
		resp, err := req.RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		return resp
	}
	finalized := func(name string) int16 {
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(e.ctx, e.cl)
		require.NoError(t, err)
		for _, f := range resp.FinalizedFeatures {
			if f.Name == name {
				return f.MaxVersionLevel
			}
		}
		return 0
	}
	require.Equal(t, int16(2), finalized("transaction.version"))

	r := update(2, true, "transaction.version", 1, 2)
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int16(2), finalized("transaction.version"), "validate_only changes nothing")

	r = update(2, false, "transaction.version", 1, 2)
	require.Zero(t, r.ErrorCode)
	require.Equal(t, int16(1), finalized("transaction.version"))

	r = update(2, false, "transaction.version", 2, 1)
	require.Zero(t, r.ErrorCode)
	require.Empty(t, r.Results, "v2 answers a success without results")
	require.Equal(t, int16(2), finalized("transaction.version"))

	r = update(2, false, "transaction.version", 3, 1)
	require.Equal(t, kerr.InvalidUpdateVersion.Code, r.ErrorCode)
	require.Equal(t, "The update failed for all features since the following feature had an error: "+
		"Invalid update version 3 for feature transaction.version. Local controller 1 only supports versions 0-2", *r.ErrorMessage)
	require.Empty(t, r.Results)
}
