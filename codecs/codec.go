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
		return json.Marshal(x)
	case T:
		return json.Marshal(&x)
	}
	var zero T
	return nil, fmt.Errorf("codecs.JSON[%T]: cannot encode %T", zero, v)
}

// Decode unmarshals into a new *T.
func (JSON[T]) Decode(b []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("codecs.JSON[%T]: %w", *v, err)
	}
	return v, nil
}
