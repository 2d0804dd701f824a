package topology

import (
	"strconv"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
)

// Hooks observe every processor a Builder builds, whatever its graph: messages processed per
// input partition and messages emitted per output topic.
type Hooks struct {
	processed *prometheus.CounterVec
	emitted   *prometheus.CounterVec
}

// NewHooks registers the processing metrics with reg (nil registers nothing).
func NewHooks(reg prometheus.Registerer) *Hooks {
	h := &Hooks{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_messages_processed_total",
			Help: "Messages a processor group's callback handled, by input topic and partition.",
		}, []string{"group", "topic", "partition"}),
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_messages_emitted_total",
			Help: "Messages a processor group emitted, by output topic.",
		}, []string{"group", "topic"}),
	}
	if reg != nil {
		reg.MustRegister(h.processed, h.emitted)
	}
	return h
}

// wrap returns goka's context wrapper for group; goka calls it once per message, right before
// the callback.
func (h *Hooks) wrap(group string) goka.ContextWrapper {
	return func(ctx goka.Context) goka.Context {
		h.processed.WithLabelValues(group, string(ctx.Topic()), strconv.Itoa(int(ctx.Partition()))).Inc()
		return observedContext{gokaContext: ctx, hooks: h, group: group}
	}
}

type gokaContext = goka.Context

// observedContext counts what a callback emits.
type observedContext struct {
	gokaContext
	hooks *Hooks
	group string
}

func (c observedContext) Emit(topic goka.Stream, key string, value interface{}, options ...goka.ContextOption) {
	c.hooks.emitted.WithLabelValues(c.group, string(topic)).Inc()
	c.gokaContext.Emit(topic, key, value, options...)
}
