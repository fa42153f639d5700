package quota

import "math"

// windowConfig is a sampled statistic's configuration (Kafka's
// MetricConfig): samples windows of windowMs each.
type windowConfig struct {
	samples  int
	windowMs int64
}

// sample is one window of a sampled statistic (Kafka's SampledStat.Sample).
type sample struct {
	value       float64
	events      int64
	startMs     int64
	lastEventMs int64
}

func (s *sample) reset(nowMs int64) {
	*s = sample{startMs: nowMs, lastEventMs: nowMs}
}

func (s *sample) complete(nowMs int64, cfg windowConfig) bool {
	return nowMs-s.startMs >= cfg.windowMs
}

// sampled is Kafka's SampledStat: values recorded into cfg.samples windows
// plus one overlapping window. A window is complete once windowMs old; the
// next record then starts the oldest window afresh. A window whose last
// event is samples*windowMs old is obsolete and reset before measuring.
// The zero value is ready; it is not safe for concurrent use.
type sampled struct {
	samples []sample
	current int
}

func (s *sampled) currentSample(nowMs int64) *sample {
	if len(s.samples) == 0 {
		s.samples = append(s.samples, sample{startMs: nowMs, lastEventMs: nowMs})
	}
	return &s.samples[s.current]
}

// record adds value at nowMs to the current window, advancing to a fresh
// window when the current one is complete.
func (s *sampled) record(cfg windowConfig, value float64, nowMs int64) {
	cur := s.currentSample(nowMs)
	if cur.complete(nowMs, cfg) {
		cur = s.advance(cfg, nowMs)
	}
	cur.value += value
	cur.events++
	cur.lastEventMs = nowMs
}

// advance moves to the next of samples+1 windows (Kafka keeps one extra for
// a window that overlaps the monitored span).
func (s *sampled) advance(cfg windowConfig, nowMs int64) *sample {
	s.current = (s.current + 1) % (cfg.samples + 1)
	if s.current >= len(s.samples) {
		s.samples = append(s.samples, sample{startMs: nowMs, lastEventMs: nowMs})
	} else {
		s.samples[s.current].reset(nowMs)
	}
	return &s.samples[s.current]
}

// purge resets the windows without an event in the monitored span.
func (s *sampled) purge(cfg windowConfig, nowMs int64) {
	expire := int64(cfg.samples) * cfg.windowMs
	for i := range s.samples {
		if nowMs-s.samples[i].lastEventMs >= expire {
			s.samples[i].reset(nowMs)
		}
	}
}

func (s *sampled) oldest(nowMs int64) *sample {
	if len(s.samples) == 0 {
		s.samples = append(s.samples, sample{startMs: nowMs, lastEventMs: nowMs})
	}
	o := &s.samples[0]
	for i := 1; i < len(s.samples); i++ {
		if s.samples[i].startMs < o.startMs {
			o = &s.samples[i]
		}
	}
	return o
}

// sum is the total of the live windows (Kafka's WindowedSum).
func (s *sampled) sum(cfg windowConfig, nowMs int64) float64 {
	s.purge(cfg, nowMs)
	total := 0.0
	for _, smp := range s.samples {
		total += smp.value
	}
	return total
}

// avg is the mean of the recorded values in the live windows (Kafka's Avg),
// NaN when there are none.
func (s *sampled) avg(cfg windowConfig, nowMs int64) float64 {
	s.purge(cfg, nowMs)
	total, n := 0.0, int64(0)
	for _, smp := range s.samples {
		total += smp.value
		n += smp.events
	}
	if n == 0 {
		return math.NaN()
	}
	return total / float64(n)
}

// rate is Kafka's Rate over a WindowedSum: the sum of the live windows per
// second of the span they cover.
type rate struct {
	sampled
}

// windowSizeMs is the span the rate divides by (Kafka's Rate.windowSize):
// the time since the oldest live window started, but never less than
// samples-1 full windows plus the elapsed part of the current one, so a
// new client's first burst is spread over the whole quota window instead
// of looking infinitely fast.
func (r *rate) windowSizeMs(cfg windowConfig, nowMs int64) int64 {
	r.purge(cfg, nowMs)
	elapsed := nowMs - r.oldest(nowMs).startMs
	full := int(elapsed / cfg.windowMs)
	if minFull := cfg.samples - 1; full < minFull {
		elapsed += int64(minFull-full) * cfg.windowMs
	}
	return max(elapsed, 1)
}

// measure is the rate per second at nowMs.
func (r *rate) measure(cfg windowConfig, nowMs int64) float64 {
	v := r.sum(cfg, nowMs)
	return v / (float64(r.windowSizeMs(cfg, nowMs)) / 1000)
}

// tokenBucket is Kafka's TokenBucket: tokens refill at the quota rate up to
// a burst of samples windows' worth; recording takes tokens and may
// drive the balance negative, which is a quota violation.
//
// Like Kafka's, a new bucket has no tokens and was last refilled at time 0,
// so its first refill fills it to the burst.
type tokenBucket struct {
	tokens float64
	lastMs int64
}

func (b *tokenBucket) refill(cfg windowConfig, quota float64, nowMs int64) {
	b.tokens = math.Min(b.burst(cfg, quota), b.tokens+quota*float64(nowMs-b.lastMs)/1000)
	b.lastMs = nowMs
}

// measure is the token balance at nowMs.
func (b *tokenBucket) measure(cfg windowConfig, quota float64, nowMs int64) float64 {
	b.refill(cfg, quota, nowMs)
	return b.tokens
}

// record takes value tokens at nowMs.
func (b *tokenBucket) record(cfg windowConfig, quota float64, value float64, nowMs int64) {
	b.refill(cfg, quota, nowMs)
	b.tokens = math.Min(b.burst(cfg, quota), b.tokens-value)
}

// burst is the bucket's capacity: samples windows at the quota rate.
func (b *tokenBucket) burst(cfg windowConfig, quota float64) float64 {
	return float64(cfg.samples) * float64(cfg.windowMs) / 1000 * quota
}

// throttleMs is QuotaUtils.throttleTime: how long until a rate of observed
// falls back to bound over a window of windowMs, if nothing more is
// recorded: (observed - bound) / bound * window, rounded.
func throttleMs(observed, bound float64, windowMs int64) int64 {
	return int64(math.Round((observed - bound) / bound * float64(windowMs)))
}
