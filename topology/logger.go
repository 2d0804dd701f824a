package topology

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/IBM/sarama"
)

// gokaLogger routes goka's Printf-style logging to slog at debug level.
type gokaLogger struct{ l *slog.Logger }

func newGokaLogger(l *slog.Logger) gokaLogger { return gokaLogger{l: l} }

func (g gokaLogger) Print(v ...interface{})   { g.l.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
func (g gokaLogger) Println(v ...interface{}) { g.l.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
func (g gokaLogger) Printf(format string, v ...interface{}) {
	g.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// RouteSaramaLogger sends sarama's logging to l at debug level. sarama's logger is a package
// variable of sarama's, so this is done once, by main.
func RouteSaramaLogger(l *slog.Logger) {
	sarama.Logger = saramaLogger{l: l.With("component", "sarama")}
}

type saramaLogger struct{ l *slog.Logger }

func (s saramaLogger) Print(v ...interface{}) { s.l.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
func (s saramaLogger) Printf(format string, v ...interface{}) {
	s.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (s saramaLogger) Println(v ...interface{}) { s.l.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
