package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/internal/config"
)

// TestSameSettings: settings resolved twice are the same even though their
// pointer fields are distinct allocations, so reconcile doesn't reapply a
// topic's config to its log on every metadata change.
func TestSameSettings(t *testing.T) {
	lvl1, lvl2 := int32(3), int32(3)
	a := config.LogSettings{CleanupPolicy: []string{"delete"}, CompressionLevel: &lvl1}
	b := config.LogSettings{CleanupPolicy: []string{"delete"}, CompressionLevel: &lvl2}
	require.True(t, sameSettings(&a, &b))
	lvl2 = 4
	require.False(t, sameSettings(&a, &b))
	require.False(t, sameSettings(&a, nil))
}
