//go:build race

package records

// raceEnabled: under -race, sync.Pool drops a random share of Puts on purpose,
// so a pooled codec is sometimes built afresh and allocation counts vary.
const raceEnabled = true
