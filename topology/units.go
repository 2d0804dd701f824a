package topology

import (
	"context"
	"errors"

	"github.com/lovoo/goka"
)

// ProcessorUnit runs a goka processor and reports it ready once its tables have recovered and
// it processes input.
type ProcessorUnit struct{ P *goka.Processor }

// Run runs the processor until ctx is done.
func (u ProcessorUnit) Run(ctx context.Context) error { return u.P.Run(ctx) }

// Ready is nil once the processor runs.
func (u ProcessorUnit) Ready() error {
	if !u.P.Recovered() {
		return errors.New("recovering tables")
	}
	return nil
}

// ViewUnit runs a goka view and reports it ready once it caught up with its table.
type ViewUnit struct{ V *goka.View }

// Run runs the view until ctx is done.
func (u ViewUnit) Run(ctx context.Context) error { return u.V.Run(ctx) }

// Ready is nil once the view has recovered every partition.
func (u ViewUnit) Ready() error {
	if !u.V.Recovered() {
		return errors.New("view recovering")
	}
	return nil
}
