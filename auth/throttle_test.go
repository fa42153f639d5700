package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spool-broker/spool/auth/sasl"
	"github.com/spool-broker/spool/protocol/errcode"
)

func TestLoginThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		failures []time.Duration // offsets of failures from one address
		at       time.Duration
		blocked  bool
	}{
		{"under the threshold", []time.Duration{0, time.Second}, 2 * time.Second, false},
		{"threshold reached", []time.Duration{0, time.Second, 2 * time.Second}, 3 * time.Second, true},
		{"block ends", []time.Duration{0, time.Second, 2 * time.Second}, 32 * time.Second, false},
		{"failures spread over windows", []time.Duration{0, 50 * time.Second, 70 * time.Second}, 71 * time.Second, false},
		{"failures while blocked do not extend it", []time.Duration{0, 1, 2, 10 * time.Second, 20 * time.Second}, 33 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := NewLoginThrottle(3, time.Minute, 30*time.Second, 100)
			for _, f := range tc.failures {
				th.Failed("10.0.0.1", t0.Add(f))
			}
			require.Equal(t, tc.blocked, th.Blocked("10.0.0.1", t0.Add(tc.at)))
			require.False(t, th.Blocked("10.0.0.2", t0.Add(tc.at)), "other addresses are unaffected")
		})
	}
	require.Nil(t, NewLoginThrottle(0, time.Minute, time.Second, 0), "threshold 0 turns it off")
	var off *LoginThrottle
	off.Failed("x", t0)
	require.False(t, off.Blocked("x", t0))
}

// TestLoginThrottleBoundedMemory: a flood of failures from many addresses
// keeps at most MaxAddresses entries, and does not evict a blocked one.
func TestLoginThrottleBoundedMemory(t *testing.T) {
	t0 := time.Unix(1000, 0)
	th := NewLoginThrottle(2, time.Minute, time.Hour, 50)
	th.Failed("victim", t0)
	th.Failed("victim", t0)
	for i := range 100000 {
		th.Failed(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), t0.Add(time.Duration(i)*time.Millisecond))
		require.LessOrEqual(t, th.Tracked(), 50)
	}
	require.True(t, th.Blocked("victim", t0.Add(100*time.Second)))
}

// TestSessionLoginThrottle: after the threshold of wrong passwords from one
// address, the right password from it fails too (with the same answer as a
// wrong one), while another address logs in; after the block it works.
func TestSessionLoginThrottle(t *testing.T) {
	cfg := &SASLConfig{
		Mechanisms:    []sasl.Mechanism{sasl.NewPlain(map[string]string{"alice": "secret"})},
		LoginThrottle: NewLoginThrottle(3, time.Minute, 30*time.Second, 100),
	}
	now := time.Unix(1000, 0)
	login := func(host, pass string) AuthenticateResult {
		s := NewSASLSession(cfg)
		s.SetClientHost(host)
		require.Equal(t, HandleHandshake, s.Check(17, now).Action)
		require.Zero(t, s.Handshake("PLAIN", 1).ErrorCode)
		return s.Authenticate([]byte("\x00alice\x00"+pass), 2, now)
	}
	for range 3 {
		r := login("10.0.0.1", "wrong")
		require.Equal(t, errcode.SASLAuthenticationFailed, r.ErrorCode)
	}
	wrong := login("10.0.0.1", "wrong")
	blocked := login("10.0.0.1", "secret")
	require.Equal(t, errcode.SASLAuthenticationFailed, blocked.ErrorCode)
	require.True(t, blocked.Close)
	require.Equal(t, wrong.ErrorMessage, blocked.ErrorMessage, "while blocked, the answer does not depend on the password")
	require.True(t, login("10.0.0.2", "secret").Done)
	now = now.Add(31 * time.Second)
	require.True(t, login("10.0.0.1", "secret").Done)
}
