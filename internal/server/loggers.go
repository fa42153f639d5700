package server

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/config"
	"github.com/spool-broker/spool/internal/logging"
	"github.com/spool-broker/spool/protocol"
	"github.com/spool-broker/spool/protocol/errcode"
)

// sourceBrokerLogger is Kafka's DYNAMIC_BROKER_LOGGER_CONFIG config source.
const sourceBrokerLogger = config.ConfigSource(6)

// brokerLoggers answers DescribeConfigs for BROKER_LOGGER: every logger
// this broker knows (root and each component that has logged) with its
// effective level, as Kafka lists its log4j loggers. A broker whose
// logger was not built by internal/logging (tests) has none.
func (b *Broker) brokerLoggers() []config.Entry {
	levels := logging.LevelsOf(b.logger)
	if levels == nil {
		return nil
	}
	var out []config.Entry
	for _, name := range levels.Loggers() {
		v := logging.LevelName(levels.Level(name))
		out = append(out, config.Entry{Name: name, Value: &v, Source: sourceBrokerLogger, Type: config.TypeString})
	}
	return out
}

// alterBrokerLoggers applies IncrementalAlterConfigs to BROKER_LOGGER as
// Kafka's ConfigAdminManager does: SET a known logger to a level, DELETE
// to go back to the root level (the root logger cannot be deleted);
// APPEND and SUBTRACT are refused. Everything is validated before
// anything changes.
func (b *Broker) alterBrokerLoggers(r *protocol.IncrementalAlterConfigsRequestAlterConfigsResource, validateOnly bool) *configError {
	levels := logging.LevelsOf(b.logger)
	for _, c := range r.Configs {
		if levels == nil || !levels.Known(c.Name) {
			return &configError{errcode.InvalidConfig, fmt.Sprintf("Logger %s does not exist!", c.Name)}
		}
		switch c.ConfigOperation {
		case 0: // SET
			if c.Value == nil {
				return &configError{errcode.InvalidConfig, fmt.Sprintf("Cannot set the log level of %s to null", c.Name)}
			}
			if _, err := logging.ParseLevel(*c.Value); err != nil {
				return &configError{errcode.InvalidConfig, fmt.Sprintf("Cannot set the log level of %s to %s as it is not a supported log level. Valid log levels are DEBUG, ERROR, FATAL, INFO, TRACE, WARN, OFF", c.Name, *c.Value)}
			}
		case 1: // DELETE
			if c.Name == logging.Root {
				return &configError{errcode.InvalidRequest, "Removing the log level of the root logger is not allowed"}
			}
		default:
			return &configError{errcode.InvalidRequest, fmt.Sprintf("Operation %d is not allowed for broker loggers", c.ConfigOperation)}
		}
	}
	if validateOnly || levels == nil {
		return nil
	}
	for _, c := range r.Configs {
		if c.ConfigOperation == 1 {
			levels.Reset(c.Name)
			continue
		}
		lv, _ := logging.ParseLevel(*c.Value)
		levels.Set(c.Name, lv)
		b.logger.Info("log level changed", zap.String("logger", c.Name), zap.String("level", logging.LevelName(lv)))
	}
	return nil
}
