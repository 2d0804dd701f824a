// Package brokertest starts MQTT brokers for the command sink's tests (an embedded mochi broker,
// with TLS if asked, or a Mosquitto process) and reads what reaches them with an independent
// paho subscriber. It also makes the certificates of a TLS test.
package brokertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is an MQTT broker a test started.
type Broker struct {
	// URL is what clients connect to: tcp://127.0.0.1:port or tls://127.0.0.1:port.
	URL string
	// Addr is the host:port of the listener.
	Addr string
	// Mochi is the embedded server (nil for Mosquitto).
	Mochi *mochi.Server
	stop  sync.Once
}

// Close stops an embedded broker (idempotent; mochi's own Close is not).
func (b *Broker) Close() {
	if b.Mochi != nil {
		b.stop.Do(func() { _ = b.Mochi.Close() })
	}
}

// StartMochi starts an embedded mochi broker on a free loopback port, allowing every client
// (auth.AllowHook), with TLS when tlsConfig is not nil. It stops when the test ends.
//
// mochi lets clients publish and subscribe to topics that begin with '$' (AWS IoT's
// $aws/things/...); it only refuses publishes to $SYS/...
func StartMochi(t testing.TB, tlsConfig *tls.Config, hooks ...mochi.Hook) *Broker {
	t.Helper()
	return StartMochiAt(t, "127.0.0.1:0", tlsConfig, hooks...)
}

// StartMochiAt is StartMochi on a given address (to restart a broker where it was) and with
// extra hooks.
func StartMochiAt(t testing.TB, addr string, tlsConfig *tls.Config, hooks ...mochi.Hook) *Broker {
	t.Helper()
	server := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatalf("mochi auth hook: %v", err)
	}
	for _, h := range hooks {
		if err := server.AddHook(h, nil); err != nil {
			t.Fatalf("mochi hook %s: %v", h.ID(), err)
		}
	}
	ln := listeners.NewTCP(listeners.Config{ID: "t", Address: addr, TLSConfig: tlsConfig})
	if err := server.AddListener(ln); err != nil {
		t.Fatalf("mochi listener: %v", err)
	}
	if err := server.Serve(); err != nil {
		t.Fatalf("mochi serve: %v", err)
	}
	scheme := "tcp"
	if tlsConfig != nil {
		scheme = "tls"
	}
	b := &Broker{URL: scheme + "://" + ln.Address(), Addr: ln.Address(), Mochi: server}
	t.Cleanup(b.Close)
	return b
}

// MosquittoMissing is the reason a test skips when the mosquitto binary is not on PATH.
const MosquittoMissing = "MOSQUITTO NOT INSTALLED: apt-get install mosquitto (CI installs it; this test runs the command sink against a real Mosquitto broker)"

// StartMosquitto runs mosquitto on a free loopback port with a temporary configuration
// (anonymous clients, no persistence) and waits until it accepts connections. It skips the test
// when mosquitto is not installed.
func StartMosquitto(t testing.TB) *Broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
			if _, statErr := os.Stat(p); statErr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip(MosquittoMissing)
	}
	port := FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	logFile, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("mosquitto log:\n%s", b)
			}
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Broker{URL: "tcp://" + addr, Addr: addr}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Message is one message a Subscriber received.
type Message struct {
	Topic   string
	Payload []byte
}

// Subscriber is an independent paho client subscribed with QoS 1 to one filter.
type Subscriber struct {
	mu   sync.Mutex
	msgs []Message
	more chan struct{}
}

// Subscribe connects a new paho client (its own client id, clean session) to url and
// subscribes to filter. tlsConfig may be nil.
func Subscribe(t testing.TB, url, filter string, tlsConfig *tls.Config) *Subscriber {
	t.Helper()
	s := &Subscriber{more: make(chan struct{}, 1)}
	o := paho.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("subscriber-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second)
	if tlsConfig != nil {
		o.SetTLSConfig(tlsConfig)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...)})
		s.mu.Unlock()
		select {
		case s.more <- struct{}{}:
		default:
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return s
}

// Messages returns what arrived so far.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Settle returns the messages once none has arrived for quiet (at most 10 s): QoS 1 says the
// broker has a message, not that it reached the subscriber yet.
func (s *Subscriber) Settle(quiet time.Duration) []Message {
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.more:
			if time.Now().Before(deadline) {
				continue
			}
		case <-time.After(quiet):
		}
		return s.Messages()
	}
}

// WaitFor waits until at least n messages arrived, failing the test after timeout.
func (s *Subscriber) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.more:
		case <-deadline.C:
			t.Fatalf("subscriber got %d messages within %s, want %d: %v", len(s.Messages()), timeout, n, s.Messages())
		}
	}
}

// Certs are the PEM files and TLS configurations of a mutually authenticated TLS test: one CA
// signs the broker's certificate (for 127.0.0.1) and the client's.
type Certs struct {
	CAFile, CertFile, KeyFile string
	// Server requires and verifies a client certificate.
	Server *tls.Config
	// Client trusts the CA and presents the client certificate (for subscribers).
	Client *tls.Config
}

// NewCerts writes a fresh CA, broker and client certificate (ECDSA P-256) under a temp dir.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fleetstream test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (tls.Certificate, []byte, []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair, certPEM, keyPEM
	}
	serverPair, _, _ := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	clientPair, clientPEM, clientKeyPEM := leaf(3, "fleetstream-command-sink", x509.ExtKeyUsageClientAuth, nil)

	c := &Certs{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "client.pem"),
		KeyFile:  filepath.Join(dir, "client.key"),
		Server: &tls.Config{
			Certificates: []tls.Certificate{serverPair},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
		Client: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientPair}, MinVersion: tls.VersionTLS12},
	}
	for path, b := range map[string][]byte{
		c.CAFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		c.CertFile: clientPEM,
		c.KeyFile:  clientKeyPEM,
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
