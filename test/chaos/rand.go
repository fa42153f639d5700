package main

import "math/rand"

// newRand is the nemesis's only source of randomness.
func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
