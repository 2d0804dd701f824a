package iot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
	"github.com/fleetstream/fleetstream/sinks/shadow/tokenbucket"
)

// Name is the backend's label in logs and metrics.
const Name = "iot"

// QoS of every Publish: at least once.
const QoS = 1

// Option configures a Backend.
type Option func(*options)

type options struct {
	aws    *aws.Config
	logger *slog.Logger
}

// WithAWSConfig uses cfg instead of loading the standard SDK configuration chain.
func WithAWSConfig(cfg aws.Config) Option { return func(o *options) { o.aws = &cfg } }

// WithLogger logs to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Backend delivers commands through the AWS IoT data plane HTTPS API: Publish with QoS 1 to
// the rendered topic, or UpdateThingShadow of the rendered thing. It implements
// sinks.Backend.
type Backend struct {
	cfg    Config
	render *target.Renderer
	client *iotdataplane.Client
	creds  aws.CredentialsProvider
	region string
	bucket *tokenbucket.Bucket
	log    *slog.Logger
}

var _ sinks.Backend = (*Backend)(nil)

// New checks cfg, loads the AWS configuration (unless WithAWSConfig) and builds the client.
// The SDK's own retries are off: the command sink retries, counts and backs off itself.
func New(ctx context.Context, cfg Config, render *target.Renderer, opts ...Option) (*Backend, error) {
	if render == nil {
		return nil, errors.New("iot: no renderer: build one with target.New")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var awsCfg aws.Config
	if o.aws != nil {
		awsCfg = *o.aws
	} else {
		var loadOpts []func(*config.LoadOptions) error
		if cfg.Region != "" {
			loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
		}
		var err error
		if awsCfg, err = config.LoadDefaultConfig(ctx, loadOpts...); err != nil {
			return nil, fmt.Errorf("iot: load AWS configuration: %w", err)
		}
	}
	if cfg.Region != "" {
		awsCfg.Region = cfg.Region
	}
	client := iotdataplane.NewFromConfig(awsCfg, func(o *iotdataplane.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.Retryer = aws.NopRetryer{}
	})
	b := &Backend{
		cfg:    cfg,
		render: render,
		client: client,
		creds:  awsCfg.Credentials,
		region: awsCfg.Region,
		bucket: tokenbucket.New(cfg.Rate, cfg.Burst),
		log:    o.logger,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

// Name returns "iot".
func (b *Backend) Name() string { return Name }

// Connect checks what can be checked without sending a command: a region and credentials.
// Permissions are only known at the first call.
func (b *Backend) Connect(ctx context.Context) error {
	if b.region == "" {
		return errors.New("iot: no AWS region: set AWS_REGION (or the backend's Region)")
	}
	if b.creds == nil {
		return errors.New("iot: no AWS credentials: use the environment, a shared profile or the ECS task role")
	}
	if _, err := b.creds.Retrieve(ctx); err != nil {
		return fmt.Errorf("iot: no AWS credentials: %w (use the environment, a shared profile or the ECS task role)", err)
	}
	return nil
}

// WriteBatch delivers the commands of batch in order, one call each. A command that cannot be
// decoded or rendered, or that the service rejects, fails permanently and the others go on;
// after a retryable failure (throttling, 5xx, network) the rest is not attempted, so a retry
// keeps the order.
func (b *Backend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	var failed []sinks.RecordError
	var blocked error
	for i, rec := range batch {
		if blocked != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: fmt.Errorf("not attempted after an earlier failure: %w", blocked)})
			continue
		}
		_, m, err := b.render.RenderRecord(rec)
		if err == nil {
			err = b.deliver(ctx, m)
		}
		if err != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: err})
			if sinks.Retryable(err) || errors.Is(err, context.Canceled) {
				blocked = err
			}
		}
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

func (b *Backend) deliver(ctx context.Context, m target.Message) error {
	if err := b.bucket.Wait(ctx); err != nil {
		return fmt.Errorf("iot: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
	defer cancel()
	if b.cfg.Mode == ModeShadow {
		in := &iotdataplane.UpdateThingShadowInput{ThingName: aws.String(m.Thing), Payload: m.Payload}
		if b.cfg.ShadowName != "" {
			in.ShadowName = aws.String(b.cfg.ShadowName)
		}
		if _, err := b.client.UpdateThingShadow(ctx, in); err != nil {
			return classify(fmt.Errorf("iot: UpdateThingShadow %s: %w", m.Thing, err))
		}
		return nil
	}
	in := &iotdataplane.PublishInput{Topic: aws.String(m.Topic), Qos: QoS, Payload: m.Payload}
	if _, err := b.client.Publish(ctx, in); err != nil {
		return classify(fmt.Errorf("iot: Publish %s: %w", m.Topic, err))
	}
	return nil
}

// Close has nothing to release: calls are independent HTTPS requests.
func (b *Backend) Close(context.Context) error { return nil }

// classify sorts a data plane error into retryable or permanent (sinks.Permanent):
//
//   - a Retry-After header (seconds) becomes sinks.WithRetryAfter, so the wait is honoured;
//   - throttling (ThrottlingException, HTTP 429), 5xx (InternalFailureException,
//     ServiceUnavailableException), timeouts and network errors are retried;
//   - UnauthorizedException and ForbiddenException (401, 403) are retried too: they come from
//     an IAM policy or expired credentials, which an operator fixes, and dead-lettering a STOP
//     command because of a policy typo would lose it;
//   - every other 4xx (InvalidRequestException, RequestEntityTooLargeException,
//     ResourceNotFoundException, ConflictException, ...) is permanent: the same request would
//     get the same answer.
func classify(err error) error {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if secs, perr := strconv.Atoi(re.Response.Header.Get("Retry-After")); perr == nil && secs > 0 {
			err = sinks.WithRetryAfter(err, time.Duration(secs)*time.Second)
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ThrottlingException", "InternalFailureException", "ServiceUnavailableException",
			"UnauthorizedException", "ForbiddenException":
			return err
		}
	}
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		switch s := resp.HTTPStatusCode(); {
		case s == http.StatusTooManyRequests, s == http.StatusRequestTimeout, s >= 500,
			s == http.StatusUnauthorized, s == http.StatusForbidden:
			return err
		case s >= 400:
			return sinks.Permanent(err)
		}
	}
	var ser *smithy.SerializationError
	if errors.As(err, &ser) {
		return sinks.Permanent(err)
	}
	if api != nil && api.ErrorFault() == smithy.FaultClient {
		return sinks.Permanent(err)
	}
	return err
}
