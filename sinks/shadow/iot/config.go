package iot

import (
	"fmt"
	"net/url"
	"time"
)

// Mode is the data plane call that delivers a command.
type Mode string

const (
	// ModePublish publishes the payload to the rendered topic with QoS 1 (iot:Publish): by
	// default the classic shadow's update topic, which the shadow service applies.
	ModePublish Mode = "publish"
	// ModeShadow updates the thing's shadow directly (iot:UpdateThingShadow) with the payload
	// as the shadow document; the topic template is not used, the thing name template is.
	ModeShadow Mode = "shadow"
)

// Defaults of Config.
const (
	// DefaultRate is AWS IoT Core's limit of publishes per second per connection.
	DefaultRate           = 100
	DefaultBurst          = 10
	DefaultRequestTimeout = 10 * time.Second
)

// Config configures the AWS IoT data plane backend. Credentials and region come from the
// standard AWS SDK chain (environment, shared config, ECS task role); the endpoint from
// Endpoint, else the standard AWS_ENDPOINT_URL_IOT_DATA_PLANE, else the SDK's default.
type Config struct {
	// Mode is publish (default) or shadow.
	Mode Mode
	// Region overrides the SDK chain's region (AWS_REGION).
	Region string
	// Endpoint is the account's data endpoint,
	// https://<prefix>-ats.iot.<region>.amazonaws.com (aws iot describe-endpoint
	// --endpoint-type iot:Data-ATS). Empty uses AWS_ENDPOINT_URL_IOT_DATA_PLANE, or the SDK's
	// regional default.
	Endpoint string
	// ShadowName names a named shadow (ModeShadow); empty updates the classic shadow.
	ShadowName string
	// Rate limits calls per second (a token bucket holding Burst tokens).
	Rate  float64
	Burst int
	// RequestTimeout bounds one call.
	RequestTimeout time.Duration
}

// DefaultConfig publishes with QoS 1 at up to 100 calls per second.
func DefaultConfig() Config {
	return Config{Mode: ModePublish, Rate: DefaultRate, Burst: DefaultBurst, RequestTimeout: DefaultRequestTimeout}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.Rate == 0 {
		c.Rate = d.Rate
	}
	if c.Burst == 0 {
		c.Burst = d.Burst
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	return c
}

// Validate reports the first field that is wrong and how to fix it. Zero fields take the
// defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch c.Mode {
	case ModePublish, ModeShadow:
	default:
		return fmt.Errorf("iot: Mode %q is unknown: use %s (iot:Publish to the shadow topic) or %s (iot:UpdateThingShadow)", c.Mode, ModePublish, ModeShadow)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("iot: Endpoint %q: want a URL such as https://<prefix>-ats.iot.<region>.amazonaws.com (aws iot describe-endpoint --endpoint-type iot:Data-ATS)", c.Endpoint)
		}
	}
	if c.ShadowName != "" && c.Mode != ModeShadow {
		return fmt.Errorf("iot: ShadowName %q is set but Mode is %s: use Mode %s, or publish to the named shadow's topic with the topic template", c.ShadowName, c.Mode, ModeShadow)
	}
	if c.Rate < 0 {
		return fmt.Errorf("iot: Rate %g is negative: use calls per second, at most %d per connection for AWS IoT Core", c.Rate, DefaultRate)
	}
	if c.Burst < 0 {
		return fmt.Errorf("iot: Burst %d is negative: use a positive count, or 0 for %d", c.Burst, DefaultBurst)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("iot: RequestTimeout %s is negative: use a positive duration, or 0 for %s", c.RequestTimeout, DefaultRequestTimeout)
	}
	return nil
}
