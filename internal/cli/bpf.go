package cli

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
)

// checkBPF compiles a tcpdump filter once, so a mistake is reported before any work.
func checkBPF(expr string) error {
	_, err := capfilter.Compile(expr, layers.LinkTypeEthernet, 262144)
	return err
}
