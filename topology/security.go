package topology

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
)

// The SASL mechanisms fleetstream speaks. MSK offers SCRAM-SHA-512 (port 9096) and IAM
// (port 9098), both over TLS only; self-managed Kafka may offer any of them.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	SASLAWSMSKIAM   = "AWS_MSK_IAM"
)

// Security configures TLS and SASL towards the brokers: MSK's TLS (port 9094, optionally with a
// client certificate), SASL/SCRAM (9096) and IAM (9098) modes, and any self-managed Kafka.
// The zero value is a plaintext connection without authentication, as to the embedded broker.
//
// The flags that set it are --tls, --tls-ca-file, --tls-cert-file, --tls-key-file,
// --tls-server-name, --tls-insecure-skip-verify, --sasl-mechanism, --sasl-username,
// --sasl-password and --sasl-region; Validate's messages name them.
type Security struct {
	TLS  TLS
	SASL SASL
}

// TLS configures the TLS connection to the brokers.
type TLS struct {
	// Enabled turns TLS on; every other field needs it.
	Enabled bool
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates; empty trusts the
	// system's roots (which is right for MSK).
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for mutual TLS (MSK's
	// TLS client authentication through AWS Private CA). Set both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked against the brokers' certificates; empty checks
	// each broker's host name.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate. For test brokers only.
	InsecureSkipVerify bool
}

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is "" (no SASL), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM; case
	// does not matter.
	Mechanism string
	// Username and Password authenticate PLAIN and SCRAM.
	Username string
	Password string
	// Region is the AWS region of the MSK cluster, for AWS_MSK_IAM. Credentials come from the
	// AWS SDK's default chain (environment, shared config, ECS task role).
	Region string
}

// String renders the SASL settings without the password, so a logged config leaks nothing.
func (s SASL) String() string {
	pw := ""
	if s.Password != "" {
		pw = "<redacted>"
	}
	return fmt.Sprintf("{Mechanism:%s Username:%s Password:%s Region:%s}", s.Mechanism, s.Username, pw, s.Region)
}

// mechanism returns the canonical spelling of the configured mechanism, or "" for none.
func (s SASL) mechanism() string { return strings.ToUpper(strings.TrimSpace(s.Mechanism)) }

// Validate reports the first field that is wrong, naming its flag and the fix. It reads the
// TLS files, so a missing or broken file fails at start-up rather than at the first connect.
func (s Security) Validate() error {
	if err := s.validateSASL(); err != nil {
		return err
	}
	_, err := s.TLS.config()
	return err
}

func (s Security) validateSASL() error {
	m := s.SASL.mechanism()
	switch m {
	case "":
		switch {
		case s.SASL.Username != "" || s.SASL.Password != "":
			return errors.New("kafka: --sasl-username or --sasl-password is set but --sasl-mechanism is not: set it to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		case s.SASL.Region != "":
			return errors.New("kafka: --sasl-region is set but --sasl-mechanism is not: set it to AWS_MSK_IAM")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.SASL.Username == "" || s.SASL.Password == "" {
			return fmt.Errorf("kafka: SASL mechanism %s needs --sasl-username and --sasl-password", m)
		}
		if s.SASL.Region != "" {
			return fmt.Errorf("kafka: --sasl-region is only for AWS_MSK_IAM, not SASL mechanism %s: remove it", m)
		}
	case SASLAWSMSKIAM:
		if s.SASL.Region == "" {
			return errors.New("kafka: SASL mechanism AWS_MSK_IAM needs --sasl-region, the MSK cluster's AWS region (e.g. eu-west-1)")
		}
		if s.SASL.Username != "" || s.SASL.Password != "" {
			return errors.New("kafka: SASL mechanism AWS_MSK_IAM takes no --sasl-username or --sasl-password: credentials come from the AWS SDK chain (environment, shared config, ECS task role)")
		}
		if !s.TLS.Enabled {
			return errors.New("kafka: SASL mechanism AWS_MSK_IAM needs TLS: add --tls (MSK serves IAM on port 9098 over TLS only)")
		}
	default:
		return fmt.Errorf("kafka: SASL mechanism %q is unknown: set --sasl-mechanism to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM", s.SASL.Mechanism)
	}
	return nil
}

// Warnings lists settings that work but are risky or will not work against MSK; main logs
// them at start-up. Validate must pass first.
func (s Security) Warnings() []string {
	var w []string
	switch m := s.SASL.mechanism(); {
	case m == SASLPlain && !s.TLS.Enabled:
		w = append(w, "kafka: SASL PLAIN without --tls sends the password in clear text")
	case (m == SASLScramSHA256 || m == SASLScramSHA512) && !s.TLS.Enabled:
		w = append(w, fmt.Sprintf("kafka: SASL %s without --tls: MSK accepts SCRAM only over TLS (port 9096); this works only on a self-managed SASL_PLAINTEXT listener", m))
	}
	if m := s.SASL.mechanism(); m == SASLScramSHA256 && s.TLS.Enabled {
		w = append(w, "kafka: MSK supports SCRAM-SHA-512 only; SCRAM-SHA-256 works only on self-managed Kafka")
	}
	if s.TLS.Enabled && s.TLS.InsecureSkipVerify {
		w = append(w, "kafka: --tls-insecure-skip-verify accepts any broker certificate: use it only against a test broker")
	}
	return w
}

// ExplainConnectError adds to an error from connecting to the brokers (sarama.NewClient,
// NewClusterAdmin, a producer or consumer group) what these settings suggest went wrong: a
// refused password, a certificate from an unknown CA, TLS against a plaintext listener. It
// returns err unchanged when it has nothing to add, and keeps err's chain for errors.Is.
func (s Security) ExplainConnectError(err error) error {
	if err == nil {
		return nil
	}
	if hint := s.connectHint(err); hint != "" {
		return fmt.Errorf("%w (%s)", err, hint)
	}
	return err
}

func (s Security) connectHint(err error) string {
	var (
		unknownCA   x509.UnknownAuthorityError
		badHost     x509.HostnameError
		verify      *tls.CertificateVerificationError
		notTLS      tls.RecordHeaderError
		mechanism   = s.SASL.mechanism()
		credentials = "check --sasl-username, --sasl-password and --sasl-mechanism"
	)
	if mechanism == SASLAWSMSKIAM {
		credentials = "check the AWS credentials and that their IAM policy allows kafka-cluster:Connect on the cluster"
	}
	closed := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
	var op *net.OpError
	readTimeout := errors.As(err, &op) && op.Op == "read" && op.Timeout()
	msg := err.Error()
	// A TLS alert arrives as an unexported type; only its text says what it is.
	clientCertRefused := strings.Contains(msg, "tls: certificate required") || strings.Contains(msg, "tls: bad certificate") ||
		strings.Contains(msg, "tls: unknown certificate authority") || strings.Contains(msg, "tls: expired certificate")
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return "the broker refused the SASL " + mechanism + " credentials: " + credentials
	case errors.As(err, &unknownCA):
		return "the broker's certificate is not signed by a CA this client trusts: set --tls-ca-file to the CA bundle that signs it"
	case errors.As(err, &badHost):
		return "the broker's certificate does not name the host dialled: set --tls-server-name to a name it holds, or dial that name"
	case errors.As(err, &verify):
		return "the broker's certificate did not verify: check --tls-ca-file and --tls-server-name"
	case errors.As(err, &notTLS), s.TLS.Enabled && readTimeout:
		return "the listener does not speak TLS: remove --tls or dial its TLS port (MSK: 9094 TLS, 9096 SCRAM, 9098 IAM)"
	case clientCertRefused && s.TLS.CertFile == "":
		return "the broker wants a client certificate: set --tls-cert-file and --tls-key-file"
	case clientCertRefused:
		return "the broker refused the client certificate: check that --tls-cert-file is signed by a CA the cluster trusts and has not expired"
	case closed && mechanism != "":
		return "the broker closed the connection during SASL " + mechanism + " authentication, as brokers do on wrong credentials: " + credentials + ", and --tls if the listener needs it"
	case closed && s.TLS.Enabled && s.TLS.CertFile == "":
		return "the broker closed the TLS connection: if it asks for a client certificate, set --tls-cert-file and --tls-key-file"
	case closed:
		return "the broker closed the connection: if its listener needs TLS or SASL, set --tls and --sasl-mechanism (MSK ports: 9092 plaintext, 9094 TLS, 9096 SCRAM, 9098 IAM)"
	}
	return ""
}

// config builds the TLS client configuration, or nil when TLS is off.
func (t TLS) config() (*tls.Config, error) {
	if !t.Enabled {
		for _, f := range []struct {
			set  bool
			flag string
		}{
			{t.CAFile != "", "--tls-ca-file"}, {t.CertFile != "", "--tls-cert-file"}, {t.KeyFile != "", "--tls-key-file"},
			{t.ServerName != "", "--tls-server-name"}, {t.InsecureSkipVerify, "--tls-insecure-skip-verify"},
		} {
			if f.set {
				return nil, fmt.Errorf("kafka: %s is set but TLS is off: add --tls", f.flag)
			}
		}
		return nil, nil
	}
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in for test brokers, warned about
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: --tls-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: --tls-ca-file %s holds no PEM certificate: give the CA bundle that signs the brokers' certificates", t.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return nil, errors.New("kafka: --tls-cert-file needs --tls-key-file, the client certificate's private key")
	case t.CertFile == "" && t.KeyFile != "":
		return nil, errors.New("kafka: --tls-key-file needs --tls-cert-file, the client certificate")
	case t.CertFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: --tls-cert-file %s and --tls-key-file %s: %w", t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// apply sets cfg's TLS and SASL. Kafka.Sarama calls it after Validate.
func (s Security) apply(cfg *sarama.Config) error {
	if err := s.validateSASL(); err != nil {
		return err
	}
	tlsConfig, err := s.TLS.config()
	if err != nil {
		return err
	}
	if tlsConfig != nil {
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tlsConfig
	}
	m := s.SASL.mechanism()
	if m == "" {
		return nil
	}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.User = s.SASL.Username
	cfg.Net.SASL.Password = s.SASL.Password
	switch m {
	case SASLPlain:
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case SASLScramSHA256:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha256.New} }
	case SASLScramSHA512:
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha512.New} }
	case SASLAWSMSKIAM:
		// MSK IAM is SASL/OAUTHBEARER with a SigV4-presigned URL as the token.
		cfg.Net.SASL.Mechanism = sarama.SASLTypeOAuth
		cfg.Net.SASL.TokenProvider = newIAMTokenProvider(s.SASL.Region)
	}
	return nil
}

// iamTokenTimeout bounds one token generation: sarama calls Token while connecting to a broker
// and wants it not to block for long.
const iamTokenTimeout = 10 * time.Second

// iamTokenProvider is sarama's OAUTHBEARER token source for MSK IAM. It signs a token with the
// AWS SDK's default credential chain and reuses it until shortly before it expires, since
// sarama asks for one on every broker connection.
type iamTokenProvider struct {
	region string
	// generate signs a token and returns it and its expiry in Unix milliseconds;
	// signer.GenerateAuthToken outside tests.
	generate func(ctx context.Context, region string) (string, int64, error)
	now      func() time.Time

	mu      sync.Mutex
	token   string
	refresh time.Time // when to sign a new token
}

func newIAMTokenProvider(region string) *iamTokenProvider {
	return &iamTokenProvider{region: region, generate: signer.GenerateAuthToken, now: time.Now}
}

// Token returns a valid MSK IAM token, signing a new one when the cached one is past 80% of its
// lifetime (tokens live 15 minutes).
func (p *iamTokenProvider) Token() (*sarama.AccessToken, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.token != "" && now.Before(p.refresh) {
		return &sarama.AccessToken{Token: p.token}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), iamTokenTimeout)
	defer cancel()
	token, expiryMs, err := p.generate(ctx, p.region)
	if err != nil {
		return nil, fmt.Errorf("kafka: AWS_MSK_IAM token for region %s: %w (check the AWS credentials: environment, shared config or ECS task role)", p.region, err)
	}
	p.token = token
	p.refresh = now.Add(time.UnixMilli(expiryMs).Sub(now) * 4 / 5)
	return &sarama.AccessToken{Token: token}, nil
}

// scramClient is a SCRAM client (RFC 5802, with SHA-256 and SHA-512 as in RFC 7677) for
// sarama's SCRAM-SHA-256 and SCRAM-SHA-512 mechanisms, as Kafka speaks them: no channel
// binding, and the password used as given (no SASLprep), like the Java client.
type scramClient struct {
	hash func() hash.Hash
	// nonce is the client nonce; Begin makes a random one unless a test set it.
	nonce string

	user, password, authzID string
	step                    int
	gs2Header               string
	clientFirstBare         string
	serverSignature         []byte
	done                    bool
}

// scramMinIterations is RFC 5802's minimum iteration count; scramMaxIterations bounds the work
// a hostile server can ask for.
const (
	scramMinIterations = 4096
	scramMaxIterations = 1 << 20
)

// Begin starts an exchange.
func (c *scramClient) Begin(user, password, authzID string) error {
	c.user, c.password, c.authzID = user, password, authzID
	c.step, c.done, c.serverSignature = 0, false, nil
	if c.nonce == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("scram: nonce: %w", err)
		}
		c.nonce = base64.RawStdEncoding.EncodeToString(b)
	}
	return nil
}

// Step answers the server's challenge: "" starts the exchange with the client-first message,
// the server-first message yields the client-final message, and the server-final message is
// verified.
func (c *scramClient) Step(challenge string) (string, error) {
	c.step++
	switch c.step {
	case 1:
		c.gs2Header = "n,,"
		if c.authzID != "" {
			c.gs2Header = "n,a=" + scramEscape(c.authzID) + ","
		}
		c.clientFirstBare = "n=" + scramEscape(c.user) + ",r=" + c.nonce
		return c.gs2Header + c.clientFirstBare, nil
	case 2:
		return c.clientFinal(challenge)
	case 3:
		return "", c.verifyServerFinal(challenge)
	}
	return "", errors.New("scram: the exchange is already finished")
}

// Done reports whether the server has been verified.
func (c *scramClient) Done() bool { return c.done }

func (c *scramClient) clientFinal(serverFirst string) (string, error) {
	attrs := scramAttributes(serverFirst)
	if e, ok := attrs["e"]; ok {
		return "", fmt.Errorf("scram: server refused: %s", e)
	}
	if _, ok := attrs["m"]; ok {
		return "", errors.New("scram: server asks for an unsupported extension")
	}
	nonce := attrs["r"]
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return "", errors.New("scram: server nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil || len(salt) == 0 {
		return "", errors.New("scram: server sent no valid salt")
	}
	iterations, err := strconv.Atoi(attrs["i"])
	if err != nil || iterations < scramMinIterations || iterations > scramMaxIterations {
		return "", fmt.Errorf("scram: server asks for %q iterations, want %d to %d", attrs["i"], scramMinIterations, scramMaxIterations)
	}
	salted, err := pbkdf2.Key(c.hash, c.password, salt, iterations, c.hash().Size())
	if err != nil {
		return "", fmt.Errorf("scram: %w", err)
	}
	clientKey := scramHMAC(c.hash, salted, "Client Key")
	h := c.hash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2Header)) + ",r=" + nonce
	authMessage := c.clientFirstBare + "," + serverFirst + "," + withoutProof
	proof := scramHMAC(c.hash, storedKey, authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	c.serverSignature = scramHMAC(c.hash, scramHMAC(c.hash, salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (c *scramClient) verifyServerFinal(serverFinal string) error {
	attrs := scramAttributes(serverFinal)
	if e, ok := attrs["e"]; ok {
		return fmt.Errorf("scram: server refused: %s", e)
	}
	signature, err := base64.StdEncoding.DecodeString(attrs["v"])
	if err != nil || subtle.ConstantTimeCompare(signature, c.serverSignature) != 1 {
		return errors.New("scram: server signature does not match: the broker does not know this password")
	}
	c.done = true
	return nil
}

// scramAttributes parses "k=v,k=v"; values may contain '='.
func scramAttributes(msg string) map[string]string {
	attrs := map[string]string{}
	for part := range strings.SplitSeq(msg, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && len(k) == 1 {
			if _, seen := attrs[k]; !seen {
				attrs[k] = v
			}
		}
	}
	return attrs
}

// scramEscape escapes a user name for a SCRAM message.
func scramEscape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func scramHMAC(h func() hash.Hash, key []byte, msg string) []byte {
	mac := hmac.New(h, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}
