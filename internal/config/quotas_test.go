package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConnectionSettings(t *testing.T) {
	b, _, err := Load("", singleNode(
		"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL",
		"KAFKA_MAX_CONNECTIONS=100",
		"KAFKA_MAX_CONNECTIONS_PER_IP=10",
		"KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES=127.0.0.1:50, ::1:60,broker-2.example:5",
		"KAFKA_LISTENER_NAME_INTERNAL_MAX_CONNECTIONS=20",
		"KAFKA_LISTENER_NAME_INTERNAL_MAX_CONNECTION_CREATION_RATE=7",
	))
	require.NoError(t, err)
	s := b.ConnectionSettings(Dynamic{})
	require.Equal(t, ConnectionSettings{
		MaxConnections:            100,
		MaxConnectionsPerIP:       10,
		PerIPOverrides:            map[string]int{"127.0.0.1": 50, "::1": 60, "broker-2.example": 5},
		MaxConnectionCreationRate: 1<<31 - 1,
		Listeners: map[string]ListenerConnectionSettings{
			"PLAINTEXT": {MaxConnections: 100, MaxConnectionCreationRate: 1<<31 - 1},
			"INTERNAL":  {MaxConnections: 20, MaxConnectionCreationRate: 7},
		},
	}, s, "a listener's own limits default to the broker-wide ones, as Kafka's prefix override")

	// Dynamic configs: per broker > cluster default > static.
	s = b.ConnectionSettings(Dynamic{
		ClusterDefault: map[string]string{"max.connections": "80", "max.connection.creation.rate": "30"},
		PerBroker:      map[string]string{"max.connections": "90", "listener.name.plaintext.max.connections": "3"},
	})
	require.Equal(t, 90, s.MaxConnections)
	require.Equal(t, 30, s.MaxConnectionCreationRate)
	require.Equal(t, ListenerConnectionSettings{MaxConnections: 3, MaxConnectionCreationRate: 30}, s.Listeners["PLAINTEXT"])

	require.Equal(t, QuotaWindows{Num: 11, SizeSeconds: 1, ControllerNum: 11, ControllerSizeSeconds: 1}, b.QuotaWindows())
	for _, n := range b.Caveats() {
		require.NotContains(t, n.Property, "connection", "connection limits are honoured: %s", n)
	}
}

func TestConnectionLimitValidation(t *testing.T) {
	for _, tc := range []struct {
		env []string
		err string
	}{
		{[]string{"KAFKA_MAX_CONNECTIONS_PER_IP=0"}, `"max.connections.per.ip": can be set to zero only if max.connections.per.ip.overrides property is set.`},
		{[]string{"KAFKA_MAX_CONNECTIONS_PER_IP=0", "KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES=10.0.0.1:5"}, ""},
		{[]string{"KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES=10.0.0.1"}, `entry "10.0.0.1" is not host:count`},
		{[]string{"KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES=10.0.0.1:many"}, `count "many" is not an integer`},
		{[]string{"KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES=bad/host:1"}, `contains invalid addresses : bad/host`},
		{[]string{"KAFKA_MAX_CONNECTION_CREATION_RATE=-1"}, `"max.connection.creation.rate"`},
		{[]string{"KAFKA_LISTENER_NAME_PLAINTEXT_MAX_CONNECTIONS=lots"}, `"listener.name.plaintext.max.connections"`},
		{[]string{"KAFKA_QUOTA_WINDOW_NUM=0"}, `"quota.window.num"`},
	} {
		_, _, err := Load("", singleNode(tc.env...))
		if tc.err == "" {
			require.NoError(t, err, "%v", tc.env)
			continue
		}
		require.ErrorContains(t, err, tc.err, "%v", tc.env)
	}
	require.NoError(t, ValidateBrokerDynamic(map[string]string{
		"max.connections": "5", "listener.name.plaintext.max.connection.creation.rate": "2", "max.connections.per.ip.overrides": "10.0.0.1:3",
	}))
	require.Error(t, ValidateBrokerDynamic(map[string]string{"listener.name.plaintext.max.connections": "-2"}))
	require.ErrorContains(t, ValidateBrokerDynamic(map[string]string{"quota.window.num": "3"}), "read-only")
}
