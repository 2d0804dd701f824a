package topology

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestSecurityValidate(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name string
		sec  Security
		want []string // substrings of the error; none: valid
	}{
		{"zero value: plaintext, no SASL", Security{}, nil},
		{"TLS with system roots", Security{TLS: TLS{Enabled: true}}, nil},
		{"TLS with CA, client certificate and server name", Security{TLS: TLS{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, ServerName: "b-1.msk"}}, nil},
		{"PLAIN", Security{SASL: SASL{Mechanism: "PLAIN", Username: "u", Password: "p"}}, nil},
		{"SCRAM-SHA-512 over TLS", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}}, nil},
		{"mechanism in lower case", Security{SASL: SASL{Mechanism: "scram-sha-256", Username: "u", Password: "p"}}, nil},
		{"IAM over TLS", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1"}}, nil},

		{"unknown mechanism", Security{SASL: SASL{Mechanism: "GSSAPI"}}, []string{`"GSSAPI" is unknown`, "--sasl-mechanism", "SCRAM-SHA-512"}},
		{"SCRAM without credentials", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "SCRAM-SHA-512"}},
			[]string{"kafka: SASL mechanism SCRAM-SHA-512 needs --sasl-username and --sasl-password"}},
		{"SCRAM without password", Security{SASL: SASL{Mechanism: "SCRAM-SHA-256", Username: "u"}}, []string{"SCRAM-SHA-256 needs --sasl-username and --sasl-password"}},
		{"PLAIN without username", Security{SASL: SASL{Mechanism: "PLAIN", Password: "p"}}, []string{"PLAIN needs --sasl-username and --sasl-password"}},
		{"SCRAM with a region", Security{SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p", Region: "eu-west-1"}}, []string{"--sasl-region is only for AWS_MSK_IAM"}},
		{"credentials without mechanism", Security{SASL: SASL{Username: "u", Password: "p"}}, []string{"--sasl-mechanism is not", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"}},
		{"region without mechanism", Security{SASL: SASL{Region: "eu-west-1"}}, []string{"--sasl-region is set", "AWS_MSK_IAM"}},
		{"IAM without region", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "AWS_MSK_IAM"}}, []string{"AWS_MSK_IAM needs --sasl-region"}},
		{"IAM without TLS", Security{SASL: SASL{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1"}}, []string{"AWS_MSK_IAM needs TLS", "--tls"}},
		{"IAM with a password", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1", Username: "u", Password: "p"}},
			[]string{"AWS_MSK_IAM takes no --sasl-username or --sasl-password", "ECS task role"}},

		{"CA file without TLS", Security{TLS: TLS{CAFile: pki.caFile}}, []string{"--tls-ca-file is set but TLS is off: add --tls"}},
		{"server name without TLS", Security{TLS: TLS{ServerName: "b-1"}}, []string{"--tls-server-name is set but TLS is off"}},
		{"skip verify without TLS", Security{TLS: TLS{InsecureSkipVerify: true}}, []string{"--tls-insecure-skip-verify is set but TLS is off"}},
		{"missing CA file", Security{TLS: TLS{Enabled: true, CAFile: filepath.Join(t.TempDir(), "none.pem")}}, []string{"--tls-ca-file", "no such file"}},
		{"CA file without certificates", Security{TLS: TLS{Enabled: true, CAFile: writeFile(t, "empty.pem", "not a certificate")}}, []string{"holds no PEM certificate"}},
		{"certificate without key", Security{TLS: TLS{Enabled: true, CertFile: pki.clientCertFile}}, []string{"--tls-cert-file needs --tls-key-file"}},
		{"key without certificate", Security{TLS: TLS{Enabled: true, KeyFile: pki.clientKeyFile}}, []string{"--tls-key-file needs --tls-cert-file"}},
		{"certificate and key that do not match", Security{TLS: TLS{Enabled: true, CertFile: pki.clientCertFile, KeyFile: pki.serverKeyFile}}, []string{"--tls-cert-file", "--tls-key-file", "private key does not match"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sec.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate passed, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// Kafka.Validate and Kafka.Sarama refuse it too.
			k := Kafka{Brokers: []string{"127.0.0.1:9092"}, Security: tc.sec}
			if err := k.Validate(); err == nil {
				t.Error("Kafka.Validate passed")
			}
			if _, err := k.Sarama(); err == nil {
				t.Error("Kafka.Sarama passed")
			}
		})
	}
}

func TestSecurityWarnings(t *testing.T) {
	tests := []struct {
		name string
		sec  Security
		want string
	}{
		{"none", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}}, ""},
		{"plaintext", Security{}, ""},
		{"PLAIN in clear text", Security{SASL: SASL{Mechanism: "PLAIN", Username: "u", Password: "p"}}, "clear text"},
		{"SCRAM without TLS", Security{SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}}, "MSK accepts SCRAM only over TLS"},
		{"SCRAM-SHA-256 on MSK", Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "SCRAM-SHA-256", Username: "u", Password: "p"}}, "MSK supports SCRAM-SHA-512 only"},
		{"skip verify", Security{TLS: TLS{Enabled: true, InsecureSkipVerify: true}}, "any broker certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.sec.Warnings()
			if tc.want == "" {
				if len(w) != 0 {
					t.Errorf("Warnings = %q, want none", w)
				}
				return
			}
			if len(w) != 1 || !strings.Contains(w[0], tc.want) {
				t.Errorf("Warnings = %q, want one saying %q", w, tc.want)
			}
		})
	}
}

func TestSecuritySaramaConfig(t *testing.T) {
	pki := newTestPKI(t)
	build := func(t *testing.T, s Security) *sarama.Config {
		t.Helper()
		cfg, err := Kafka{Brokers: []string{"b-1.msk.example:9096"}, Security: s}.Sarama()
		if err != nil {
			t.Fatalf("Sarama: %v", err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("sarama refuses the config: %v", err)
		}
		return cfg
	}

	t.Run("plaintext", func(t *testing.T) {
		cfg := build(t, Security{})
		if cfg.Net.TLS.Enable || cfg.Net.SASL.Enable {
			t.Errorf("TLS %v, SASL %v; want both off", cfg.Net.TLS.Enable, cfg.Net.SASL.Enable)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		cfg := build(t, Security{TLS: TLS{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, ServerName: "broker.test"}})
		c := cfg.Net.TLS.Config
		if !cfg.Net.TLS.Enable || c == nil {
			t.Fatal("TLS is off")
		}
		if c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "broker.test" || c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
			t.Errorf("TLS config: roots %v, %d certificates, server name %q, skip verify %v, min version %x",
				c.RootCAs != nil, len(c.Certificates), c.ServerName, c.InsecureSkipVerify, c.MinVersion)
		}
		if cfg.Net.SASL.Enable {
			t.Error("SASL is on")
		}
	})
	t.Run("TLS with system roots", func(t *testing.T) {
		c := build(t, Security{TLS: TLS{Enabled: true}}).Net.TLS.Config
		if c == nil || c.RootCAs != nil || len(c.Certificates) != 0 {
			t.Errorf("TLS config %+v, want system roots and no client certificate", c)
		}
	})
	t.Run("PLAIN", func(t *testing.T) {
		cfg := build(t, Security{SASL: SASL{Mechanism: "plain", Username: "fleet", Password: "secret"}})
		s := cfg.Net.SASL
		if !s.Enable || !s.Handshake || s.Mechanism != sarama.SASLTypePlaintext || s.User != "fleet" || s.Password != "secret" {
			t.Errorf("SASL config %+v", s)
		}
	})
	for _, tc := range []struct {
		mech string
		want sarama.SASLMechanism
		hash int
	}{
		{"SCRAM-SHA-256", sarama.SASLTypeSCRAMSHA256, sha256.Size},
		{"SCRAM-SHA-512", sarama.SASLTypeSCRAMSHA512, sha512.Size},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			cfg := build(t, Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: tc.mech, Username: "fleet", Password: "secret"}})
			s := cfg.Net.SASL
			if !s.Enable || s.Mechanism != tc.want || s.User != "fleet" || s.Password != "secret" || !cfg.Net.TLS.Enable {
				t.Fatalf("SASL config %+v", s)
			}
			a, b := s.SCRAMClientGeneratorFunc(), s.SCRAMClientGeneratorFunc()
			if a == b {
				t.Error("the generator returns a shared client: concurrent broker connections would mix exchanges")
			}
			if sc, ok := a.(*scramClient); !ok || sc.hash().Size() != tc.hash {
				t.Errorf("SCRAM client %T does not use the mechanism's hash", a)
			}
		})
	}
	t.Run("AWS_MSK_IAM", func(t *testing.T) {
		cfg := build(t, Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1"}})
		s := cfg.Net.SASL
		if !s.Enable || s.Mechanism != sarama.SASLTypeOAuth || !cfg.Net.TLS.Enable || s.User != "" || s.Password != "" {
			t.Fatalf("SASL config %+v, TLS %v", s, cfg.Net.TLS.Enable)
		}
		p, ok := s.TokenProvider.(*iamTokenProvider)
		if !ok || p.region != "eu-west-1" || p.generate == nil {
			t.Fatalf("token provider %#v, want the MSK IAM signer for eu-west-1", s.TokenProvider)
		}
	})
	t.Run("each call builds a fresh TLS config", func(t *testing.T) {
		s := Security{TLS: TLS{Enabled: true, CAFile: pki.caFile}}
		if build(t, s).Net.TLS.Config == build(t, s).Net.TLS.Config {
			t.Error("two configs share one *tls.Config")
		}
	})
}

func TestSecurityDoesNotPrintThePassword(t *testing.T) {
	k := Kafka{Brokers: []string{"b:9096"}, Security: Security{SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "fleet", Password: "hunter2"}}}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%v", k.Security), k.Security.SASL.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printed config shows the password: %s", s)
		}
		if !strings.Contains(s, "fleet") {
			t.Errorf("printed config lost the user name: %s", s)
		}
	}
}

func TestExplainConnectError(t *testing.T) {
	scram := Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}}
	iam := Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1"}}
	refused := fmt.Errorf("kafka: client has run out of available brokers to talk to: %w", sarama.ErrSASLAuthenticationFailed)
	for _, tc := range []struct {
		name string
		sec  Security
		err  error
		want string
	}{
		{"SCRAM refused", scram, refused, "refused the SASL SCRAM-SHA-512 credentials: check --sasl-username, --sasl-password"},
		{"IAM refused", iam, refused, "kafka-cluster:Connect"},
		{"connection reset during SASL", scram, fmt.Errorf("read: %w", syscall.ECONNRESET), "during SASL SCRAM-SHA-512 authentication"},
		{"unrelated", scram, errors.New("dial tcp: no such host"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.sec.ExplainConnectError(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("%v lost the chain of %v", got, tc.err)
			}
			if tc.want == "" && got != tc.err || !strings.Contains(got.Error(), tc.want) {
				t.Errorf("ExplainConnectError = %q, want it to say %q", got, tc.want)
			}
		})
	}
	if (Security{}).ExplainConnectError(nil) != nil {
		t.Error("ExplainConnectError(nil) is not nil")
	}
}

func TestIAMTokenProvider(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	calls := 0
	p := newIAMTokenProvider("eu-central-1")
	p.now = func() time.Time { return now }
	p.generate = func(ctx context.Context, region string) (string, int64, error) {
		calls++
		if region != "eu-central-1" {
			t.Errorf("region %q", region)
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("token generation has no deadline")
		}
		return fmt.Sprintf("token-%d", calls), now.Add(15 * time.Minute).UnixMilli(), nil
	}
	token := func() string {
		t.Helper()
		tok, err := p.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	if got := token(); got != "token-1" {
		t.Fatalf("first token %q", got)
	}
	now = now.Add(11 * time.Minute)
	if got := token(); got != "token-1" || calls != 1 {
		t.Errorf("token %q after %d signings; want the cached token-1", got, calls)
	}
	now = now.Add(2 * time.Minute) // 13 of 15 minutes: past 80% of the lifetime
	if got := token(); got != "token-2" || calls != 2 {
		t.Errorf("token %q after %d signings; want a fresh token-2", got, calls)
	}

	p.generate = func(context.Context, string) (string, int64, error) { return "", 0, errors.New("no credentials") }
	p.token = ""
	_, err := p.Token()
	if err == nil || !strings.Contains(err.Error(), "eu-central-1") || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("error %v, want the region and the cause", err)
	}
}

func TestIAMTokenIsSignedLocally(t *testing.T) {
	// The real signer with static credentials from the environment: a SigV4-presigned URL,
	// computed here, without a call to AWS.
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAFLEETSTREAMTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	cfg, err := Kafka{Brokers: []string{"b-1.msk.example:9098"}, Security: Security{TLS: TLS{Enabled: true}, SASL: SASL{Mechanism: "AWS_MSK_IAM", Region: "eu-west-1"}}}.Sarama()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Net.SASL.TokenProvider.Token()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok.Token)
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "kafka.eu-west-1.amazonaws.com" || q.Get("Action") != "kafka-cluster:Connect" ||
		!strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIAFLEETSTREAMTEST/") || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/kafka-cluster/") ||
		q.Get("X-Amz-Signature") == "" {
		t.Errorf("token is not an MSK IAM presigned URL: %s", raw)
	}
}

func TestSCRAMClientRFC7677(t *testing.T) {
	// The SCRAM-SHA-256 exchange of RFC 7677, section 3.
	c := &scramClient{hash: sha256.New, nonce: "rOprNGfwEbeRWgbNEkqO"}
	if err := c.Begin("user", "pencil", ""); err != nil {
		t.Fatal(err)
	}
	first, err := c.Step("")
	if err != nil || first != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
		t.Fatalf("client-first %q, %v", first, err)
	}
	final, err := c.Step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	if want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="; err != nil || final != want {
		t.Fatalf("client-final %q, %v; want %q", final, err, want)
	}
	if c.Done() {
		t.Fatal("done before the server is verified")
	}
	if out, err := c.Step("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="); err != nil || out != "" || !c.Done() {
		t.Fatalf("server-final: %q, %v, done %v", out, err, c.Done())
	}
	if _, err := c.Step("v=x"); err == nil {
		t.Error("a step after the exchange succeeded")
	}
}

func TestSCRAMClientRefusesBadServers(t *testing.T) {
	serverFirst := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	tests := []struct {
		name        string
		serverFirst string
		serverFinal string
		want        string
	}{
		{"wrong server signature (the server does not know the password)", serverFirst, "v=AAAA", "server signature does not match"},
		{"server error at the end", serverFirst, "e=invalid-proof", "invalid-proof"},
		{"server error at the start", "e=unknown-user", "", "unknown-user"},
		{"nonce not extending ours", "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "", "nonce"},
		{"nonce not extended", "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "", "nonce"},
		{"no salt", "r=rOprNGfwEbeRWgbNEkqOxyz,i=4096", "", "salt"},
		{"too few iterations", "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1", "", "iterations"},
		{"too many iterations", "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", "", "iterations"},
		{"mandatory extension", "m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "", "extension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &scramClient{hash: sha256.New, nonce: "rOprNGfwEbeRWgbNEkqO"}
			if err := c.Begin("user", "pencil", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Step(""); err != nil {
				t.Fatal(err)
			}
			_, err := c.Step(tc.serverFirst)
			if err == nil && tc.serverFinal != "" {
				_, err = c.Step(tc.serverFinal)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if c.Done() {
				t.Error("Done after a failed exchange")
			}
		})
	}
}

func TestSCRAMClientEscapesAndRandomises(t *testing.T) {
	a, b := &scramClient{hash: sha512.New}, &scramClient{hash: sha512.New}
	for _, c := range []*scramClient{a, b} {
		if err := c.Begin("fleet=ops,eu", "p", ""); err != nil {
			t.Fatal(err)
		}
	}
	fa, _ := a.Step("")
	fb, _ := b.Step("")
	if !strings.HasPrefix(fa, "n,,n=fleet=3Dops=2Ceu,r=") {
		t.Errorf("client-first %q does not escape the user name", fa)
	}
	if fa == fb || len(a.nonce) < 24 {
		t.Errorf("nonces %q and %q are not random", a.nonce, b.nonce)
	}
}

// Integration: sarama over TCP against the embedded Kafka-protocol broker, with the config that
// Kafka.Sarama returns.

func TestSecurityKafkaTLS(t *testing.T) {
	pki := newTestPKI(t)
	addrs := startKafka(t, kfake.TLS(pki.serverTLS(false)))

	t.Run("CA file", func(t *testing.T) {
		if err := produceAndConsume(t, addrs, Security{TLS: TLS{Enabled: true, CAFile: pki.caFile}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server name override", func(t *testing.T) {
		if err := produceAndConsume(t, addrs, Security{TLS: TLS{Enabled: true, CAFile: pki.caFile, ServerName: "broker.fleetstream.test"}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("system roots do not know a private CA", func(t *testing.T) {
		assertConnectFails(t, addrs, Security{TLS: TLS{Enabled: true}}, "set --tls-ca-file")
	})
	t.Run("wrong server name", func(t *testing.T) {
		assertConnectFails(t, addrs, Security{TLS: TLS{Enabled: true, CAFile: pki.caFile, ServerName: "other.example"}}, "set --tls-server-name")
	})
	t.Run("plaintext client", func(t *testing.T) {
		assertConnectFails(t, addrs, Security{}, "set --tls")
	})
	t.Run("TLS client on a plaintext listener", func(t *testing.T) {
		assertConnectFails(t, startKafka(t), Security{TLS: TLS{Enabled: true, CAFile: pki.caFile}}, "does not speak TLS")
	})
}

func TestSecurityKafkaMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	addrs := startKafka(t, kfake.TLS(pki.serverTLS(true)))
	if err := produceAndConsume(t, addrs, Security{TLS: TLS{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile}}); err != nil {
		t.Fatal(err)
	}
	assertConnectFails(t, addrs, Security{TLS: TLS{Enabled: true, CAFile: pki.caFile}}, "wants a client certificate: set --tls-cert-file")
}

func TestSecurityKafkaSCRAMOverTLS(t *testing.T) {
	// MSK's SASL/SCRAM mode: SCRAM-SHA-512 over TLS.
	pki := newTestPKI(t)
	addrs := startKafka(t, kfake.TLS(pki.serverTLS(false)), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "fleet", "s3cret,=pass"))
	sec := Security{TLS: TLS{Enabled: true, CAFile: pki.caFile}, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "fleet", Password: "s3cret,=pass"}}
	if err := produceAndConsume(t, addrs, sec); err != nil {
		t.Fatal(err)
	}
	sec.SASL.Password = "wrong"
	assertAuthFails(t, addrs, sec)
}

func TestSecurityKafkaSASL(t *testing.T) {
	addrs := startKafka(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pass256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pass512"))
	for _, tc := range []struct{ mech, user, pass string }{
		{"PLAIN", "plainuser", "plainpass"},
		{"SCRAM-SHA-256", "scram256", "pass256"},
		{"SCRAM-SHA-512", "scram512", "pass512"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			sec := Security{SASL: SASL{Mechanism: tc.mech, Username: tc.user, Password: tc.pass}}
			if err := produceAndConsume(t, addrs, sec); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(tc.mech+" wrong password", func(t *testing.T) {
			assertAuthFails(t, addrs, Security{SASL: SASL{Mechanism: tc.mech, Username: tc.user, Password: tc.pass + "x"}})
		})
		t.Run(tc.mech+" unknown user", func(t *testing.T) {
			assertAuthFails(t, addrs, Security{SASL: SASL{Mechanism: tc.mech, Username: "nobody", Password: tc.pass}})
		})
	}
	t.Run("no SASL", func(t *testing.T) {
		assertConnectFails(t, addrs, Security{}, "--sasl-mechanism")
	})
}

// assertConnectFails checks that a client with sec cannot reach the brokers and that the
// explained error gives hint.
func assertConnectFails(t *testing.T, addrs []string, sec Security, hint string) {
	t.Helper()
	err := produceAndConsume(t, addrs, sec)
	if err == nil {
		t.Fatal("connected")
	}
	explained := sec.ExplainConnectError(err)
	t.Logf("error: %v", explained)
	if !strings.Contains(explained.Error(), hint) {
		t.Errorf("error %q does not say %q", explained, hint)
	}
}

// assertAuthFails checks that a client with sec cannot reach the brokers, and that the error
// says authentication failed rather than something unrelated.
func assertAuthFails(t *testing.T, addrs []string, sec Security) {
	t.Helper()
	err := produceAndConsume(t, addrs, sec)
	if err == nil {
		t.Fatal("authenticated with a wrong password")
	}
	explained := sec.ExplainConnectError(err)
	t.Logf("error: %v", explained)
	if msg := explained.Error(); !strings.Contains(msg, "SASL "+sec.SASL.mechanism()) || !strings.Contains(msg, "--sasl-password") {
		t.Errorf("error %q does not point at the credentials", msg)
	}
	if !errors.Is(explained, err) {
		t.Error("the explained error lost its chain")
	}
}

// startKafka starts an embedded Kafka-protocol broker with one topic and returns its addresses.
func startKafka(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, "telemetry")}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// produceAndConsume produces one record keyed by VIN with the sarama config Kafka.Sarama
// returns for sec, and reads it back.
func produceAndConsume(t *testing.T, addrs []string, sec Security) error {
	t.Helper()
	cfg, err := Kafka{Brokers: addrs, Security: sec}.Sarama()
	if err != nil {
		return err
	}
	cfg.Net.DialTimeout = 3 * time.Second
	cfg.Net.ReadTimeout = 3 * time.Second // a TLS hello to a plaintext listener waits this long
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer client.Close()
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer producer.Close()
	value := fmt.Sprintf(`{"name":"speed","value":47.4,"vin":"1NXBR32E84Z995078","nonce":%d}`, time.Now().UnixNano())
	partition, offset, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "telemetry", Key: sarama.StringEncoder("1NXBR32E84Z995078"), Value: sarama.StringEncoder(value)})
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition("telemetry", partition, offset)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if string(m.Value) != value || string(m.Key) != "1NXBR32E84Z995078" {
			return fmt.Errorf("consumed %q = %q, want the produced record", m.Key, m.Value)
		}
		return nil
	case err := <-pc.Errors():
		return fmt.Errorf("consume: %w", err)
	case <-time.After(10 * time.Second):
		return errors.New("consume: no record within 10s")
	}
}

// testPKI is a private CA with a broker certificate (for 127.0.0.1, localhost and
// broker.fleetstream.test) and a client certificate, written as PEM files.
type testPKI struct {
	caPool                        *x509.CertPool
	server                        tls.Certificate
	caFile                        string
	clientCertFile, clientKeyFile string
	serverKeyFile                 string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey := newKey(t)
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetstream test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (certPEM, keyPEM []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: dns, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	serverCert, serverKey := issue(2, "broker", x509.ExtKeyUsageServerAuth, []string{"localhost", "broker.fleetstream.test"}, []net.IP{net.ParseIP("127.0.0.1")})
	clientCert, clientKey := issue(3, "fleetstream", x509.ExtKeyUsageClientAuth, nil, nil)
	server, err := tls.X509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{
		caPool: pool, server: server,
		caFile:         writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))),
		clientCertFile: writeFile(t, "client.pem", string(clientCert)),
		clientKeyFile:  writeFile(t, "client-key.pem", string(clientKey)),
		serverKeyFile:  writeFile(t, "server-key.pem", string(serverKey)),
	}
}

// serverTLS is the broker's TLS config; mutual asks for a client certificate signed by the CA.
func (p *testPKI) serverTLS(mutual bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if mutual {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = p.caPool
	}
	return c
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
