// Package awsfake holds in-process stand-ins for the AWS endpoints fleetstream writes to, for
// tests and benchmarks that run the real AWS SDK against a local address.
//
// Timestream is a Timestream for LiveAnalytics Write endpoint: it speaks the service's JSON 1.0
// protocol (X-Amz-Target: Timestream_20181101.<Operation>, application/x-amz-json-1.0, errors
// with a "__type" of com.amazonaws.timestream.v20181101#<Name>) for DescribeEndpoints,
// CreateDatabase, DescribeDatabase, CreateTable, DescribeTable and WriteRecords, and keeps the
// records it is sent with the service's version rules, so a test can check what a client wrote,
// how often, and what it would have cost. Faults (throttling, 500s, rejected records, slow
// answers that still apply the write) are injected per operation.
//
// Point the SDK at it with the standard per-service endpoint variable:
//
//	fake := awsfake.NewTimestream()
//	defer fake.Close()
//	os.Setenv("AWS_ENDPOINT_URL_TIMESTREAM_WRITE", fake.URL())
//
// or with timestreamwrite.Options.BaseEndpoint. The fake answers DescribeEndpoints with its own
// address, so the SDK's endpoint discovery works against it too.
//
// The package imports no AWS SDK: it decodes the wire format itself, which is what makes it a
// check on the client rather than a mirror of it.
package awsfake
