//go:build !cgo || !unix

package capfilter

import (
	"errors"
	"runtime"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func TestCompileWithoutCgo(t *testing.T) {
	_, err := Compile("tcp port 80", layers.LinkTypeEthernet, 0)
	want := `compiling filter "tcp port 80": this build of kubectl-shark has no BPF compiler (built without cgo); filter with --kfl or use a linux build`
	if runtime.GOOS == "windows" {
		want = `compiling filter "tcp port 80": this build of kubectl-shark has no BPF compiler (no libpcap on windows); filter with --kfl or use a linux build`
	}
	if err == nil || err.Error() != want || !errors.Is(err, ErrNoCompiler) {
		t.Fatalf("Compile error\n got %v\nwant %s", err, want)
	}
}
