// Package wire holds the types the plugin and the sniffer agent exchange over the
// agent's HTTP API, so both sides encode the same JSON. It has no dependencies
// beyond pkg/kfl, so the plugin can import it without the agent's capture code.
package wire

import "github.com/kubectl-shark/kubectl-shark/pkg/kfl"

// Query is the body of POST /entries and POST /pcap; GET takes the same fields as
// URL parameters (without identities).
type Query struct {
	KFL    string `json:"kfl,omitempty"`
	BPF    string `json:"bpf,omitempty"`
	Since  string `json:"since,omitempty"` // RFC 3339 time, or a duration before now ("5m")
	Until  string `json:"until,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	Follow bool   `json:"follow,omitempty"`
	// Identities fill the Kubernetes KFL variables: IP -> identity.
	Identities map[string]kfl.Identity `json:"identities,omitempty"`
	// Node is the node the sniffer runs on, for the node variables.
	Node   string `json:"node,omitempty"`
	NodeIP string `json:"nodeIP,omitempty"`
}

// The pcapng interface on which a sniffer writes TLS plaintext recovered by its
// OpenSSL uprobes (--tls). Its packets are synthetic (real addresses and ports,
// made-up TCP sequence numbers and handshake): the description says so, and the
// plugin keeps it in front of its own when it merges exports, so Wireshark users
// never mistake them for packets seen on the wire.
const (
	TLSInterfaceName        = "tls-plaintext"
	TLSInterfaceDescription = "RECONSTRUCTED TLS plaintext (OpenSSL uprobes, kubectl-shark), not packets seen on the wire"
)
