package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/spool-broker/spool/quota"
)

// TestUserQuotaWithSASLPrincipal: a user quota applies to the principal a
// SASL connection authenticated as, and not to another user.
func TestUserQuotaWithSASLPrincipal(t *testing.T) {
	n := startSecureNode(t, makePKI(t))
	// So small a request_percentage that any second request is over it.
	setQuota(t, kadm.NewClient(newClient(t, n.plain)), quotaEntity("user", "alice"), quota.RequestPercentage, 0.00001)

	throttles := func(user, pass string) int64 {
		var count atomic.Int64
		cl := newClient(t, n.saslPlain, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()),
			kgo.WithHooks(throttleHook{&count}))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for range 3 {
			_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
			require.NoError(t, err)
		}
		return count.Load()
	}
	require.Positive(t, throttles("alice", "alice-secret"), "alice's quota throttles alice")
	require.Zero(t, throttles("bob", "bob-secret"), "and nobody else")
}
