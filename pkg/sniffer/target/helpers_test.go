package target_test

import (
	"net"
	"os"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

func sendUDP(ns *os.File, dst string, payload []byte) error {
	return netns.Do(ns, func() error {
		c, err := net.Dial("udp", dst)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(payload)
		return err
	})
}
