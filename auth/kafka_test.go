package auth

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth/internal/kafkaoracle"
	"github.com/spool-broker/spool/protocol"
)

// TestAPINamesAgainstKafka: the API names in Session's ILLEGAL_SASL_STATE
// messages are Kafka's ApiKeys enum names, for every key Kafka 4.3.1 knows.
func TestAPINamesAgainstKafka(t *testing.T) {
	o := kafkaoracle.Start(t)
	checked := 0
	for _, api := range protocol.APIs {
		want, kerr := o.MustCall(t, "apikey", strconv.Itoa(int(api.Key)))
		if kerr != nil {
			continue // a key Kafka 4.3.1 dropped (e.g. the ZooKeeper-era ones)
		}
		require.Equal(t, want, apiName(api.Key), "API key %d", api.Key)
		checked++
	}
	require.Greater(t, checked, 60)
}
