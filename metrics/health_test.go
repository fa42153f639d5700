package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProbeStates(t *testing.T) {
	var h Health
	probe := func(fn http.HandlerFunc) int {
		rec := httptest.NewRecorder()
		fn(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code
	}
	for _, tc := range []struct {
		name            string
		ready           bool
		healthz, readyz int
	}{
		{"starting", false, http.StatusOK, http.StatusServiceUnavailable},
		{"serving", true, http.StatusOK, http.StatusOK},
		{"shutting down", false, http.StatusOK, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.SetReady(tc.ready)
			require.Equal(t, tc.healthz, probe(h.ServeHealthz))
			require.Equal(t, tc.readyz, probe(h.ServeReadyz))
		})
	}
}
