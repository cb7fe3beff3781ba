// Package protocols lists the dissectors a default kubectl-shark pipeline runs, so the
// CLI and the sniffer agree on them.
package protocols

import (
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/dns"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/redis"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/tls"
)

// Config returns a pipeline configuration with every protocol of this build and L4
// connection records enabled. Callers set IsLocal and CaptureSource as they need.
func Config() dissect.Config {
	return dissect.Config{
		TCP:         []dissect.TCPDissector{http.Dissector, redis.Dissector, tls.Dissector, dns.TCP},
		UDP:         []dissect.UDPDissector{dns.UDP},
		ConnRecords: true,
	}
}
