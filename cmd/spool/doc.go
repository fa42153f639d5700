// Command spool is a Kafka-compatible broker and its admin CLI.
//
//	spool serve [server.properties]   start a broker (and controller) node
//	spool version                     print the version
//	spool topic|group|cluster|...     admin commands (internal/cli)
//
// `spool serve` tells systemd it is ready (sd_notify READY=1, for
// Type=notify units) once it serves clients, and with SPOOL_HTTP_ADDR set it
// serves /metrics, /healthz (liveness), /readyz (readiness) and
// /debug/pprof/.
package main
