package config

import (
	"math"

	"github.com/spool-broker/spool/storage"
)

// StorageConfig converts a topic's effective log settings to the config of
// its partition logs. Unlimited flush intervals (<= 0) become "never".
func (s LogSettings) StorageConfig() storage.Config {
	c := storage.DefaultConfig()
	c.SegmentBytes = int64(s.SegmentBytes)
	c.SegmentMs = s.SegmentMs
	c.RetentionMs = s.RetentionMs
	c.RetentionBytes = s.RetentionBytes
	c.IndexIntervalBytes = s.IndexIntervalBytes
	c.IndexMaxBytes = s.SegmentIndexBytes
	c.FlushIntervalMessages = s.FlushMessages
	c.FlushIntervalMs = s.FlushMs
	if c.FlushIntervalMessages <= 0 {
		c.FlushIntervalMessages = math.MaxInt64
	}
	if c.FlushIntervalMs <= 0 {
		c.FlushIntervalMs = math.MaxInt64
	}
	c.FileDeleteDelayMs = s.FileDeleteDelayMs
	c.Compact = s.Compact()
	c.MinCleanableDirtyRatio = s.MinCleanableDirtyRatio
	c.MinCompactionLagMs = s.MinCompactionLagMs
	c.MaxCompactionLagMs = s.MaxCompactionLagMs
	c.DeleteRetentionMs = s.DeleteRetentionMs
	if !s.Delete() { // compact-only topics are never deleted by retention
		c.RetentionMs = -1
		c.RetentionBytes = -1
	}
	return c
}
