package config

import (
	"strconv"
	"strings"
	"time"
)

// DelegationTokenSettings are the delegation token properties (Kafka's
// delegation.token.*). SecretKey empty means tokens are disabled.
type DelegationTokenSettings struct {
	SecretKey     string        // delegation.token.secret.key
	MaxLifetime   time.Duration // delegation.token.max.lifetime.ms
	ExpiryTime    time.Duration // delegation.token.expiry.time.ms
	CheckInterval time.Duration // delegation.token.expiry.check.interval.ms
}

// DelegationTokens resolves the delegation token properties; values were
// validated at Load.
func (b *Broker) DelegationTokens() DelegationTokenSettings {
	ms := func(name string, def int64) time.Duration {
		v, ok := b.Static(name)
		if !ok {
			return time.Duration(def) * time.Millisecond
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1 {
			n = def
		}
		return time.Duration(n) * time.Millisecond
	}
	key, _ := b.Static("delegation.token.secret.key")
	return DelegationTokenSettings{
		SecretKey:     key,
		MaxLifetime:   ms("delegation.token.max.lifetime.ms", 604_800_000),
		ExpiryTime:    ms("delegation.token.expiry.time.ms", 86_400_000),
		CheckInterval: ms("delegation.token.expiry.check.interval.ms", 3_600_000),
	}
}
