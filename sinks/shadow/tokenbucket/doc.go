// Package tokenbucket is the rate limiter of the command sink's backends: AWS IoT Core accepts
// at most 100 publishes per second per connection, so each backend takes a token before every
// publish.
package tokenbucket
