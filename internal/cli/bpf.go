package cli

import (
	"errors"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
)

// checkBPF compiles a tcpdump filter once, so a mistake is reported before any work.
// A build without a compiler (no cgo) leaves the check to the sniffers.
func checkBPF(expr string) error {
	_, err := capfilter.Compile(expr, layers.LinkTypeEthernet, 262144)
	if errors.Is(err, capfilter.ErrNoCompiler) {
		return nil
	}
	return err
}
