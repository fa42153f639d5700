package controller

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/protocol"
)

// TestUpdateFeatures checks Kafka's FeatureControlManager rules and
// messages, and that a refused update writes nothing.
func TestUpdateFeatures(t *testing.T) {
	ctx := context.Background()
	c := openController(t, soleConfig(t, t.TempDir()))
	for _, id := range []int32{1, 2} {
		_, err := c.RegisterBroker(ctx, BrokerRegistration{ID: id, IncarnationID: NewTopicID(), Features: SupportedFeatures,
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "localhost", Port: uint16(9092 + id)}}})
		require.NoError(t, err)
	}
	prefix := "The update failed for all features since the following feature had an error: "
	for _, tc := range []struct {
		name    string
		updates []FeatureUpdate
		want    string // "" accepted
	}{
		{"negative", []FeatureUpdate{{"group.version", -1, Upgrade}}, "Invalid update version -1 for feature group.version. A feature version cannot be less than 0."},
		{"unknown feature", []FeatureUpdate{{"no.such.version", 1, Upgrade}}, "Invalid update version 1 for feature no.such.version. Local controller 1 does not support this feature."},
		{"beyond the controller", []FeatureUpdate{{"transaction.version", 3, Upgrade}}, "Invalid update version 3 for feature transaction.version. Local controller 1 only supports versions 0-2"},
		{"downgrade without a type", []FeatureUpdate{{"transaction.version", 1, Upgrade}}, "Invalid update version 1 for feature transaction.version. Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade."},
		{"downgrade to the current level", []FeatureUpdate{{"metadata.version", LatestMetadataVersion, SafeDowngrade}}, ""},
		{"metadata.version safe downgrade", []FeatureUpdate{{"metadata.version", 20, SafeDowngrade}}, "Invalid metadata.version 20. Refusing to perform the requested downgrade because it might delete metadata information."},
		{"metadata.version unsafe downgrade", []FeatureUpdate{{"metadata.version", 20, UnsafeDowngrade}}, "Invalid metadata.version 20. Unsafe metadata downgrade is not supported in this version."},
		{"atomic: the second refuses the first", []FeatureUpdate{{"group.version", 0, SafeDowngrade}, {"transaction.version", 9, Upgrade}}, "Invalid update version 9 for feature transaction.version. Local controller 1 only supports versions 0-2"},
		{"safe downgrade", []FeatureUpdate{{"transaction.version", 1, SafeDowngrade}}, ""},
		{"upgrade back", []FeatureUpdate{{"transaction.version", 2, Upgrade}}, ""},
		{"disable", []FeatureUpdate{{"group.version", 0, SafeDowngrade}}, ""},
	} {
		err := c.UpdateFeatures(ctx, tc.updates, false)
		if tc.want == "" {
			require.NoError(t, err, tc.name)
			for _, u := range tc.updates {
				require.Equal(t, u.Level, c.Image().Feature(u.Name), tc.name)
			}
			continue
		}
		require.ErrorIs(t, err, ErrInvalidUpdateVersion, tc.name)
		code, msg := ErrorCode(err)
		require.Equal(t, int16(95), code)
		require.Equal(t, prefix+tc.want, msg, tc.name)
	}
	require.Zero(t, c.Image().Feature("group.version"), "disabled")

	// A broker of a release that supports less blocks a level; one that
	// does not know a feature blocks enabling it.
	_, err := c.RegisterBroker(ctx, BrokerRegistration{ID: 3, IncarnationID: NewTopicID(),
		Features: []FeatureRange{{Name: "group.version", MinSupportedVersion: 0, MaxSupportedVersion: 0}}})
	require.NoError(t, err)
	err = c.UpdateFeatures(ctx, []FeatureUpdate{{"group.version", 1, Upgrade}}, false)
	require.ErrorContains(t, err, "Invalid update version 1 for feature group.version. Broker 3 does not support the given version. It supports 0 to 0.")
	require.ErrorContains(t, c.UpdateFeatures(ctx, []FeatureUpdate{{"transaction.version", 1, SafeDowngrade}}, false), "Broker 3 does not support this feature.")
	require.NoError(t, c.UnregisterBroker(ctx, 3))
	// validate_only writes nothing.
	require.NoError(t, c.UpdateFeatures(ctx, []FeatureUpdate{{"transaction.version", 1, SafeDowngrade}}, true))
	require.Equal(t, int16(2), c.Image().Feature("transaction.version"))
}

// TestUpdateFeaturesResponse: the answer's shape by version, as Kafka 4.
func TestUpdateFeaturesResponse(t *testing.T) {
	req := &protocol.UpdateFeaturesRequest{FeatureUpdates: []protocol.UpdateFeaturesRequestFeatureUpdateKey{
		{Feature: "group.version", MaxVersionLevel: 1, AllowDowngrade: true},
	}}
	require.Equal(t, []FeatureUpdate{{"group.version", 1, SafeDowngrade}}, FeatureUpdatesFromRequest(req, 0), "v0 AllowDowngrade")
	req.FeatureUpdates[0].UpgradeType = 3
	require.Equal(t, []FeatureUpdate{{"group.version", 1, UnsafeDowngrade}}, FeatureUpdatesFromRequest(req, 1))

	ok := UpdateFeaturesResponse(req, 1, nil)
	require.Len(t, ok.Results, 1)
	require.Equal(t, "group.version", ok.Results[0].Feature)
	require.Equal(t, "NONE", *ok.Results[0].ErrorMessage)
	require.Empty(t, UpdateFeaturesResponse(req, 2, nil).Results)
	bad := UpdateFeaturesResponse(req, 1, fmt.Errorf("%w: why", ErrInvalidUpdateVersion))
	require.Equal(t, int16(95), bad.ErrorCode)
	require.Equal(t, "why", *bad.ErrorMessage)
	require.Empty(t, bad.Results)
}
