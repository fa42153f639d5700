package group

import (
	"math"
	"unicode/utf16"
)

// JavaStringHashCode is java.lang.String.hashCode: s[0]*31^(n-1) + ... +
// s[n-1] over the string's UTF-16 code units, in int32 arithmetic. A
// character outside the BMP counts as its two surrogates, as in Java.
func JavaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + int32(hi)
			h = 31*h + int32(lo)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// PartitionFor is the __consumer_offsets partition that coordinates group:
// Kafka's Utils.abs(groupId.hashCode()) % numPartitions. Utils.abs is
// Math.abs except that MinInt32 (whose Math.abs stays negative) maps to 0
// (checked in the kafka-clients 4.3.1 bytecode). It is not "clear the sign
// bit" (Utils.toPositive, the producer partitioner's): for a negative hash
// the two differ, and a group would live in another partition than in
// Kafka, so a log dir moved between the two would lose its groups. The
// transaction and share coordinators place their keys the same way.
func PartitionFor(group string, numPartitions int32) int32 {
	h := JavaStringHashCode(group)
	switch {
	case h == math.MinInt32:
		return 0
	case h < 0:
		h = -h
	}
	return h % numPartitions
}
