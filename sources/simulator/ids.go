package simulator

import (
	"math/rand/v2"

	"github.com/google/uuid"
)

const (
	vinAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	nanoidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)

// newVIN draws a VIN the way the AWS simulators do: 17 characters of A-Z and 0-9. Such VINs
// break ISO 3779 (I, O, Q, no check digit); consumers accept them.
func newVIN(rng *rand.Rand) string { return draw(rng, vinAlphabet, 17) }

// newUUID draws a version 4 UUID from rng, so that trip ids repeat with the seed.
func newUUID(rng *rand.Rand) string {
	var u uuid.UUID
	for i := 0; i < len(u); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// newNanoID draws an id like the v3 simulator's trip and device ids (nanoid alphabet).
func newNanoID(rng *rand.Rand, n int) string { return draw(rng, nanoidAlphabet, n) }

func draw(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// vehicleRNG is vehicle i's own random source: a vehicle's readings do not depend on how the
// scheduler interleaves the fleet.
func vehicleRNG(seed int64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9E3779B97F4A7C15^uint64(i)))
}
