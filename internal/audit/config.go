package audit

import (
	"strconv"
	"strings"

	"github.com/spool-broker/spool/internal/config"
)

// OpenConfig opens the audit log spool.audit.log.file names (nil when
// unset), with spool.audit.log.max.bytes, .max.backups and .allowed. The
// node opens it once and shares it between its broker's listeners and the
// CONTROLLER listener.
func OpenConfig(cfg *config.Broker) (*Logger, error) {
	file, _ := cfg.Static("spool.audit.log.file")
	file = strings.TrimSpace(file)
	if file == "" {
		return nil, nil
	}
	ac := Config{File: file}
	if v, ok := cfg.Static("spool.audit.log.max.bytes"); ok {
		ac.MaxBytes, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if v, ok := cfg.Static("spool.audit.log.max.backups"); ok {
		ac.MaxBackups, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	if v, ok := cfg.Static("spool.audit.log.allowed"); ok {
		ac.Allowed = strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return Open(ac)
}
