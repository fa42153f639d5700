package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry is the process's registry, with Go runtime and process
// collectors. Only the composition root (cmd/spool) calls it; everything
// else takes a prometheus.Registerer.
func NewRegistry() *Registry {
	reg := &Registry{Registry: prometheus.NewRegistry(), slow: prometheus.NewRegistry()}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
