package afpacket_test

import (
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

func TestNextCloseAndCancel(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := afpacket.Open(ns, afpacket.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st.CheckNextCloseAndCancel(t, h)
}

func TestNextDoesNotAllocate(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := afpacket.Open(ns, afpacket.Config{BlockTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st.CheckNextDoesNotAllocate(t, h, ns)
}
