package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAddr is where the HTTP API listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8080"

// DefaultShutdownTimeout bounds how long Run waits for in-flight requests once its context is
// done.
const DefaultShutdownTimeout = 5 * time.Second

// Server timeouts. The API answers from local state, so every request is small and quick; the
// write timeout leaves room for a large /metrics scrape or VIN list over a slow link.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	readyTimeout      = 5 * time.Second // bound of one Ready call from /readyz
)

// Options configures the HTTP API. The zero value serves /healthz, an always-ready /readyz and
// an empty /metrics on DefaultAddr.
type Options struct {
	// Addr is the host:port to listen on, DefaultAddr when empty. Port 0 picks a free port;
	// Server.Addr reports the one chosen.
	Addr string

	// Logger receives server errors; nil discards them.
	Logger *slog.Logger

	// Gatherer is what /metrics exposes. nil serves an empty exposition (the process-wide
	// prometheus.DefaultGatherer is never used implicitly).
	Gatherer prometheus.Gatherer

	// Ready reports whether the command is ready to serve: tables recovered, connected. nil
	// means always ready. It is called once per /readyz request with that request's context,
	// bounded to 5s; its error text becomes the 503 body.
	Ready func(ctx context.Context) error

	// Vehicles answers /api/vehicles. nil leaves those routes out (404), for commands that hold
	// no vehicle state.
	Vehicles VehicleStore

	// ShutdownTimeout bounds the graceful shutdown of Run, DefaultShutdownTimeout when zero.
	ShutdownTimeout time.Duration
}

// Server is the HTTP surface of a long-running fleetstream command.
type Server struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler

	mu sync.Mutex
	ln net.Listener // set by Listen or Run
}

// New builds the server and its routes; nothing listens until Listen or Run.
func New(opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log.With("component", "http")}
	s.handler = s.routes()
	return s
}

// Handler is the API's handler, for tests and for mounting it in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds the listening socket now, so that a caller can report Addr (with port 0, the
// chosen port) or fail fast on a taken port before starting Run. Run listens by itself when
// Listen was not called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server is bound to, "" before Listen or Run bound it.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run serves until ctx is done, then shuts down gracefully: it stops accepting connections and
// waits up to ShutdownTimeout for in-flight requests. Connections still busy after that are
// closed; this is logged, not returned, since the API only reads state and a cut request loses
// nothing. Run returns an error when it cannot listen or serving fails. A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()

	srv := s.httpServer(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Debug("http api listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("httpapi: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("http requests still running at shutdown were cut off", "timeout", s.opts.ShutdownTimeout, "error", err)
		_ = srv.Close() // the only error is the listener's, already closed by Shutdown
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpapi: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// httpServer is the http.Server Run uses. Requests get a context that carries ctx's values but
// is not cancelled with it, so that in-flight requests can finish during the graceful shutdown.
func (s *Server) httpServer(ctx context.Context) *http.Server {
	base := context.WithoutCancel(ctx)
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s.log},
		ErrorHandling: promhttp.ContinueOnError, // a failing collector must not hide the others
	}))
	if s.opts.Vehicles != nil {
		mux.HandleFunc("GET /api/vehicles", s.listVehicles)
		mux.HandleFunc("GET /api/vehicles/{vin}", s.vehicle)
	}
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			writeText(w, http.StatusServiceUnavailable, err.Error())
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body)) // nothing to do about a client that went away
}

// promLogger routes promhttp's errors (a collector failing during a scrape) to slog.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) { p.l.Warn("metrics scrape: " + fmt.Sprint(v...)) }
