package storage

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// partitionLogger logs for one partition's log: every line carries its
// topic and partition fields, as a zap Logger.With of them would. With
// clones the encoder, and a JSON encoder's clone holds a pooled 1 KiB buffer
// for its whole life: with 100k partitions that was ~100 MiB of every
// node's heap, for loggers that an idle log uses once at load. The fields
// are added to each line instead, in the same place (before the line's
// own), so the output is the same.
type partitionLogger struct {
	base      *zap.Logger
	topic     string
	partition int32
}

func newPartitionLogger(base *zap.Logger, tp TopicPartition) partitionLogger {
	return partitionLogger{base: base, topic: tp.Topic, partition: tp.Partition}
}

func (p partitionLogger) Debug(msg string, fields ...zap.Field) {
	p.write(zapcore.DebugLevel, msg, fields)
}

func (p partitionLogger) Info(msg string, fields ...zap.Field) {
	p.write(zapcore.InfoLevel, msg, fields)
}

func (p partitionLogger) Warn(msg string, fields ...zap.Field) {
	p.write(zapcore.WarnLevel, msg, fields)
}

func (p partitionLogger) Error(msg string, fields ...zap.Field) {
	p.write(zapcore.ErrorLevel, msg, fields)
}

// write logs one line. The caller annotation skips write and the level
// method, so it names the line that logged, as a plain zap call would.
func (p partitionLogger) write(lvl zapcore.Level, msg string, fields []zap.Field) {
	if p.base == nil || !p.base.Core().Enabled(lvl) {
		return
	}
	ce := p.base.WithOptions(zap.AddCallerSkip(2)).Check(lvl, msg)
	if ce == nil {
		return
	}
	all := make([]zap.Field, 0, 2+len(fields))
	all = append(all, zap.String("topic", p.topic), zap.Int32("partition", p.partition))
	ce.Write(append(all, fields...)...)
}
