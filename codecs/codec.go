package codecs

import (
	"encoding/json"
	"fmt"
)

// Raw is the goka codec of the vehicle input topics: it passes bytes through and never fails,
// so a malformed message reaches the callback, which dead-letters it.
type Raw struct{}

// Encode accepts []byte or string.
func (Raw) Encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("codecs.Raw: cannot encode %T", v)
}

// Decode returns the bytes unchanged.
func (Raw) Decode(b []byte) (any, error) { return b, nil }

// JSON is the goka codec of an internal type T. Decode returns *T; Encode takes T or *T.
type JSON[T any] struct{}

// Encode marshals T or *T.
func (JSON[T]) Encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case *T:
		return marshal(x)
	case T:
		return marshal(&x)
	}
	var zero T
	return nil, fmt.Errorf("codecs.JSON[%T]: cannot encode %T", zero, v)
}

// marshal is json.Marshal, through the type's own encoder where it has one (statejson.go).
func marshal[T any](v *T) ([]byte, error) {
	if a, ok := any(v).(jsonAppender); ok && v != nil {
		if b, ok := a.appendJSON(make([]byte, 0, 2048)); ok {
			return b, nil
		}
	}
	return json.Marshal(v)
}

// Decode unmarshals into a new *T.
func (JSON[T]) Decode(b []byte) (any, error) {
	v := new(T)
	if p, ok := any(v).(jsonParser); ok {
		if p.parseJSON(b) {
			return v, nil
		}
		v = new(T) // the fast path gave up part-way: json.Unmarshal starts afresh
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("codecs.JSON[%T]: %w", *v, err)
	}
	return v, nil
}
