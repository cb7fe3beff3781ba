//go:build !cgo || !unix

package capfilter

import (
	"fmt"
	"runtime"

	"github.com/gopacket/gopacket/layers"
)

// haveLibpcap is false in builds without cgo.
const haveLibpcap = false

// compileLibpcap fails in this build: there is no libpcap to fall back on for the
// few expressions the pure-Go compiler does not support.
func compileLibpcap(expr string, linkType layers.LinkType, snaplen int) (*Filter, error) {
	why := "built without cgo"
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		why = "no libpcap on " + runtime.GOOS
	}
	return nil, fmt.Errorf("compiling filter %q: %w (%s)", expr, ErrNoCompiler, why)
}
