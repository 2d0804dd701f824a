package fleet

import (
	"errors"
	"sync"

	"github.com/lovoo/goka"
)

// viewRef points at the current view of a supervised, restartable view.
type viewRef struct {
	mu sync.RWMutex
	v  *goka.View
}

func (r *viewRef) set(v *goka.View) {
	r.mu.Lock()
	r.v = v
	r.mu.Unlock()
}

var errViewDown = errors.New("view not running")

func (r *viewRef) get() (*goka.View, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.v == nil {
		return nil, errViewDown
	}
	return r.v, nil
}

// Get reads key from the current view.
func (r *viewRef) Get(key string) (any, error) {
	v, err := r.get()
	if err != nil {
		return nil, err
	}
	return v.Get(key)
}

// Iterator iterates the current view.
func (r *viewRef) Iterator() (goka.Iterator, error) {
	v, err := r.get()
	if err != nil {
		return nil, err
	}
	return v.Iterator()
}

// Topic is the view's table.
func (r *viewRef) Topic() string {
	v, err := r.get()
	if err != nil {
		return "view"
	}
	return v.Topic()
}
