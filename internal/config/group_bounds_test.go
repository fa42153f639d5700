package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupBoundsAtStartup: share and streams group settings outside their
// group.*.min/max bounds refuse startup with Kafka 4.3.1's messages
// (measured by constructing KafkaConfig from the 4.3.1 jars).
func TestGroupBoundsAtStartup(t *testing.T) {
	tests := []struct {
		env  []string
		want string // "" when valid
	}{
		{[]string{"KAFKA_GROUP_SHARE_SESSION_TIMEOUT_MS=30000"}, "group.share.session.timeout.ms must be greater than or equal to group.share.min.session.timeout.ms"},
		{[]string{"KAFKA_GROUP_SHARE_SESSION_TIMEOUT_MS=70000"}, "group.share.session.timeout.ms must be less than or equal to group.share.max.session.timeout.ms"},
		{[]string{"KAFKA_GROUP_SHARE_MAX_SESSION_TIMEOUT_MS=40000"}, "group.share.max.session.timeout.ms must be greater than or equal to group.share.min.session.timeout.ms"},
		{[]string{"KAFKA_GROUP_SHARE_HEARTBEAT_INTERVAL_MS=1000"}, "group.share.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms"},
		{[]string{"KAFKA_GROUP_SHARE_HEARTBEAT_INTERVAL_MS=45000", "KAFKA_GROUP_SHARE_MAX_HEARTBEAT_INTERVAL_MS=45000"}, "group.share.heartbeat.interval.ms must be less than group.share.session.timeout.ms"},
		{[]string{"KAFKA_GROUP_SHARE_RECORD_LOCK_DURATION_MS=70000"}, "group.share.max.record.lock.duration.ms must be greater than or equal to group.share.record.lock.duration.ms"},
		{[]string{"KAFKA_GROUP_SHARE_MIN_RECORD_LOCK_DURATION_MS=20000", "KAFKA_GROUP_SHARE_RECORD_LOCK_DURATION_MS=15000"}, "group.share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms"},
		{[]string{"KAFKA_GROUP_SHARE_MIN_RECORD_LOCK_DURATION_MS=20000", "KAFKA_GROUP_SHARE_MAX_RECORD_LOCK_DURATION_MS=30000", "KAFKA_GROUP_SHARE_RECORD_LOCK_DURATION_MS=30000"}, ""},
		{[]string{"KAFKA_GROUP_SHARE_DELIVERY_COUNT_LIMIT=11"}, "must be an integer in [2, 10]"},
		{[]string{"KAFKA_GROUP_SHARE_MIN_DELIVERY_COUNT_LIMIT=5", "KAFKA_GROUP_SHARE_DELIVERY_COUNT_LIMIT=3"}, "group.share.delivery.count.limit must be greater than or equal to group.share.min.delivery.count.limit"},
		{[]string{"KAFKA_GROUP_SHARE_MAX_DELIVERY_COUNT_LIMIT=5", "KAFKA_GROUP_SHARE_DELIVERY_COUNT_LIMIT=6"}, "group.share.max.delivery.count.limit must be greater than or equal to group.share.delivery.count.limit"},
		{[]string{"KAFKA_GROUP_SHARE_MAX_DELIVERY_COUNT_LIMIT=4"}, "must be an integer in [5, 25]"},
		{[]string{"KAFKA_GROUP_SHARE_PARTITION_MAX_RECORD_LOCKS=5000"}, "group.share.max.partition.max.record.locks must be greater than or equal to group.share.partition.max.record.locks"},
		{[]string{"KAFKA_GROUP_SHARE_MAX_PARTITION_MAX_RECORD_LOCKS=20000"}, "must be an integer in [2000, 10000]"},
		{[]string{"KAFKA_GROUP_SHARE_MAX_SIZE=1001"}, "must be an integer in [1, 1000]"},
		{[]string{"KAFKA_GROUP_SHARE_ASSIGNMENT_INTERVAL_MS=20000"}, "group.share.assignment.interval.ms must be less than or equal to group.share.max.assignment.interval.ms"},
		{[]string{"KAFKA_GROUP_STREAMS_SESSION_TIMEOUT_MS=30000"}, "group.streams.session.timeout.ms must be greater than or equal to group.streams.min.session.timeout.ms"},
		{[]string{"KAFKA_GROUP_STREAMS_MIN_SESSION_TIMEOUT_MS=70000"}, "group.streams.max.session.timeout.ms must be greater than or equal to group.streams.min.session.timeout.ms"},
		{[]string{"KAFKA_GROUP_STREAMS_HEARTBEAT_INTERVAL_MS=20000"}, "group.streams.heartbeat.interval.ms must be less than or equal to group.streams.max.heartbeat.interval.ms"},
		{[]string{"KAFKA_GROUP_STREAMS_MIN_HEARTBEAT_INTERVAL_MS=6000"}, "group.streams.heartbeat.interval.ms must be greater than or equal to group.streams.min.heartbeat.interval.ms"},
		{[]string{"KAFKA_GROUP_STREAMS_NUM_STANDBY_REPLICAS=3"}, "group.streams.num.standby.replicas must be less than or equal to group.streams.max.standby.replicas"},
		{[]string{"KAFKA_GROUP_STREAMS_MAX_STANDBY_REPLICAS=11", "KAFKA_GROUP_STREAMS_NUM_STANDBY_REPLICAS=3"}, ""},
		{[]string{"KAFKA_GROUP_STREAMS_ASSIGNMENT_INTERVAL_MS=20000"}, "group.streams.assignment.interval.ms must be less than or equal to group.streams.max.assignment.interval.ms"},
	}
	for _, tc := range tests {
		t.Run(tc.env[len(tc.env)-1], func(t *testing.T) {
			_, _, err := Load("", singleNode(tc.env...))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestGroupConfigBounds: a group's own configs must lie within the broker's
// bounds (Kafka's GroupConfig.validate, messages measured on 4.3.1).
func TestGroupConfigBounds(t *testing.T) {
	b, _, err := Load("", singleNode("KAFKA_GROUP_SHARE_MAX_DELIVERY_COUNT_LIMIT=8"))
	require.NoError(t, err)
	tests := []struct {
		name, value, want string
	}{
		{"share.session.timeout.ms", "30000", "share.session.timeout.ms must be greater than or equal to group.share.min.session.timeout.ms"},
		{"share.session.timeout.ms", "70000", "share.session.timeout.ms must be less than or equal to group.share.max.session.timeout.ms"},
		{"share.session.timeout.ms", "50000", ""},
		{"share.heartbeat.interval.ms", "1000", "share.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms"},
		{"share.heartbeat.interval.ms", "20000", "share.heartbeat.interval.ms must be less than or equal to group.share.max.heartbeat.interval.ms"},
		{"share.record.lock.duration.ms", "10000", "share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms"},
		{"share.record.lock.duration.ms", "70000", "share.record.lock.duration.ms must be less than or equal to group.share.max.record.lock.duration.ms"},
		{"share.delivery.count.limit", "9", "share.delivery.count.limit must be less than or equal to group.share.max.delivery.count.limit"},
		{"share.delivery.count.limit", "8", ""},
		{"consumer.session.timeout.ms", "30000", "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"},
		{"consumer.heartbeat.interval.ms", "20000", "consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			err := ValidateGroupConfigs(map[string]string{tc.name: tc.value}, b)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

// TestResolveGroupSynonyms: a group config lists its own value (if set),
// then the default it overrides, named after the broker config that
// supplies it, as kafka-configs shows on Kafka 4.3.1.
func TestResolveGroupSynonyms(t *testing.T) {
	b, _, err := Load("", singleNode())
	require.NoError(t, err)
	byName := map[string]Entry{}
	for _, e := range ResolveGroup(map[string]string{"share.session.timeout.ms": "50000", "share.auto.offset.reset": "earliest"}, b) {
		byName[e.Name] = e
	}
	require.Equal(t, []Synonym{
		{Name: "share.session.timeout.ms", Value: strp("50000"), Source: SourceGroup},
		{Name: "group.share.session.timeout.ms", Value: strp("45000"), Source: SourceDefault},
	}, byName["share.session.timeout.ms"].Synonyms)
	require.Equal(t, []Synonym{
		{Name: "share.auto.offset.reset", Value: strp("earliest"), Source: SourceGroup},
		{Name: "share.auto.offset.reset", Value: strp("latest"), Source: SourceDefault},
	}, byName["share.auto.offset.reset"].Synonyms)
	e := byName["consumer.heartbeat.interval.ms"]
	require.Equal(t, SourceDefault, e.Source)
	require.Equal(t, []Synonym{{Name: "group.consumer.heartbeat.interval.ms", Value: strp("5000"), Source: SourceDefault}}, e.Synonyms)
}
