// Package errcode holds Kafka's protocol error codes: the int16 values that
// responses carry in their ErrorCode fields, with each code's name, default
// message and whether clients retry it.
//
// The constants and table are generated (zz_errcode_gen.go) from the Errors
// table of the kafka-clients release that protocol/internal/gen reads; see
// protocol/doc.go. Everything here is immutable and safe for concurrent use.
//
// Only a request handler turns Go errors into codes (see STYLE.md).
package errcode
