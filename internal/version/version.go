// Package version holds the build's version stamp, set through -ldflags -X by the
// Makefile (and `make dist`), and the sniffer image that matches it.
package version

import (
	"fmt"
	"runtime"
)

// Stamped at build time: go build -ldflags "-X .../internal/version.Version=v0.1.0 ..."
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
	// ImageRepository is where the sniffer image of this version is published.
	ImageRepository = "ghcr.io/kubectl-shark/sniffer"
)

// SnifferImage is the default sniffer image of this build.
func SnifferImage() string {
	tag := Version
	if tag == "" || tag == "v0.0.0-dev" {
		tag = "dev"
	}
	return ImageRepository + ":" + tag
}

// String is the one-line version text.
func String() string {
	return fmt.Sprintf("kubectl-shark %s (commit %s, built %s, %s/%s, %s)", Version, Commit, Date, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
