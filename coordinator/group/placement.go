package group

import "unicode/utf16"

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
// Kafka's Utils.abs(groupId.hashCode()) % numPartitions, where Utils.abs
// clears the sign bit (so MinInt32 maps to 0, unlike Math.abs).
func PartitionFor(group string, numPartitions int32) int32 {
	return (JavaStringHashCode(group) & 0x7fffffff) % numPartitions
}
