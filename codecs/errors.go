package codecs

import "fmt"

// Reason is a short, bounded label for why a message became a dead letter; metrics use it
// as a label value, so the set stays small.
type Reason string

// The reasons a vehicle message is rejected.
const (
	ReasonTooLarge     Reason = "too_large"
	ReasonInvalidJSON  Reason = "invalid_json"
	ReasonMissingVIN   Reason = "missing_vin"
	ReasonKeyMismatch  Reason = "key_mismatch"
	ReasonBadName      Reason = "bad_name"
	ReasonWrongType    Reason = "wrong_type"
	ReasonBadTimestamp Reason = "bad_timestamp"
	ReasonBadCode      Reason = "bad_dtc_code"
	ReasonUnknownShape Reason = "unknown_shape"
)

// DecodeError says why a message could not be decoded. Processors turn it into a DeadLetter.
type DecodeError struct {
	Reason Reason
	Detail string
}

func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

func decodeErr(r Reason, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// MaxMessageBytes bounds what a decoder reads; larger messages are dead-lettered as too_large.
const MaxMessageBytes = 256 << 10
