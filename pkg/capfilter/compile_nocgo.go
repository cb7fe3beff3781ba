//go:build !cgo || !unix

package capfilter

import (
	"fmt"
	"runtime"

	"github.com/gopacket/gopacket/layers"
)

// Compile always fails in this build: compiling tcpdump expressions needs libpcap
// through cgo. FromInstructions still accepts programs compiled elsewhere.
func Compile(expr string, linkType layers.LinkType, snaplen int) (*Filter, error) {
	why := "built without cgo"
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		why = "no libpcap on " + runtime.GOOS
	}
	return nil, fmt.Errorf("compiling filter %q: %w (%s); filter with --kfl or use a linux build", expr, ErrNoCompiler, why)
}
