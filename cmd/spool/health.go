package main

import (
	"go.uber.org/zap"

	"github.com/spool-broker/spool/internal/sdnotify"
)

// notify tells systemd (Type=notify units) about the node's state; outside
// systemd NOTIFY_SOCKET is unset and nothing is sent.
func notify(log *zap.Logger, state string) {
	if _, err := sdnotify.Notify(state); err != nil {
		log.Warn("cannot notify the service manager", zap.Error(err))
	}
}
