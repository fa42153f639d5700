package errcode

import "strconv"

type info struct {
	name      string
	message   string
	retriable bool
}

// Name is Kafka's name for code (e.g. "NOT_LEADER_OR_FOLLOWER"), or
// "UNKNOWN_CODE_<n>" for a code Kafka does not define.
func Name(code int16) string {
	if i, ok := table[code]; ok {
		return i.name
	}
	return "UNKNOWN_CODE_" + strconv.Itoa(int(code))
}

// Message is Kafka's default message for code, or "" if there is none.
func Message(code int16) string { return table[code].message }

// Retriable reports whether clients treat code as retriable (its Java
// exception extends RetriableException).
func Retriable(code int16) bool { return table[code].retriable }

// Known reports whether code is defined.
func Known(code int16) bool {
	_, ok := table[code]
	return ok
}
