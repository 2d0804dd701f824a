// Package mqtt is the MQTT backend of the command sink: it publishes each command to its
// vehicle's topic (by default the AWS IoT classic shadow topic $aws/things/{vin}/shadow/update)
// with QoS 1 and waits for the broker's PUBACK.
//
// It speaks MQTT 3.1.1 through eclipse paho (github.com/eclipse/paho.mqtt.golang), which is
// what the module requires; MQTT 5 would need paho.golang, which it does not. 3.1.1 is also
// all AWS IoT Core's shadow topics need. The client keeps one client id and a persistent
// session (CleanSession false) and reconnects by itself; a publish whose PUBACK did not come
// in time stays with the client, which resends it after a reconnect, and a retry of the same
// command waits for that publish instead of sending a second copy.
//
// For AWS IoT Core connect to tls://<prefix>-ats.iot.<region>.amazonaws.com:8883 with the
// Amazon root CA, a device or service certificate and its key (TLS.CAFile, TLS.CertFile,
// TLS.KeyFile). The certificate's policy needs iot:Connect for the client id and iot:Publish
// on the shadow topics. AWS IoT Core accepts 100 publishes per second per connection; Rate
// enforces it with a token bucket.
package mqtt
