package dns

import (
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

func fromTcpdumpX(t testing.TB, dump string) []byte { return dissecttest.FromTcpdumpX(t, dump) }

func l4Payload(t testing.TB, ip []byte) []byte { return dissecttest.L4Payload(t, ip) }

// collector records emitted entries with the client side the parser reported.
type collector = dissecttest.Result

var t0 = dissecttest.T0

func at(ms int) time.Time { return dissecttest.At(ms) }

func chunk(side dissect.Side, data []byte, ts time.Time) dissect.Chunk {
	return dissecttest.Chunk(side, data, ts)
}

// frame prefixes a DNS message with its TCP length.
func frame(msg []byte) []byte {
	return append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)
}
