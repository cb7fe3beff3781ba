package kfl

import (
	"net/netip"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Record is what a filter is evaluated against: a dissected entry plus the optional
// context the entry alone cannot tell (Kubernetes identities of its endpoints, the
// captured node, the sniffer that produced it). A Record is read-only during
// evaluation; one Record may be matched by several goroutines at once provided its
// Resolver is safe for concurrent use.
type Record struct {
	// Entry is the dissected entry. Nil is treated as an empty entry: every variable
	// has its default.
	Entry *dissect.Entry

	// Resolver maps endpoint IPs to Kubernetes identities. Nil means "no Kubernetes
	// context" (offline reading of a file): Kubernetes variables keep their defaults
	// and the resolution status variables are "".
	Resolver Resolver

	// Node and NodeIP name the node the entry was captured on: the `node` map,
	// `node_name` and `node_ip`. When empty, they fall back to the node of the local
	// peer's identity.
	Node, NodeIP string

	// NodeID and Worker are the `node_id` and `worker` variables (the hub's node
	// identifier and the sniffer's worker identifier); empty unless the caller sets them.
	NodeID, Worker string
}

// Identity is the Kubernetes identity of one IP address at capture time.
type Identity struct {
	Pod       string // pod name; empty when the IP is not a pod's (e.g. a ClusterIP)
	Namespace string // pod namespace

	Service          string // service name (the service selecting the pod, or owning the ClusterIP)
	ServiceNamespace string // service namespace; Namespace when empty and Service is set

	Node   string // node the pod runs on
	NodeIP string // that node's InternalIP

	Labels      map[string]string // pod labels (service labels for a ClusterIP); never modified
	Annotations map[string]string // pod annotations; never modified

	Process string // name of the process owning the socket, when known (eBPF capture)

	// DNS is a DNS name of the IP (the `src.dns`/`dst.dns` variables), e.g. the
	// service's cluster name "api.shop.svc.cluster.local" or a name learned from a
	// captured DNS answer; empty when unknown.
	DNS string
}

// Resolver resolves an IP address to its Kubernetes identity. Implementations must be
// safe for concurrent use when filters are evaluated from several goroutines.
type Resolver interface {
	// Resolve returns the identity of ip and whether one is known.
	Resolve(ip netip.Addr) (Identity, bool)
}

// Identities is a Resolver backed by a map, e.g. a snapshot taken at capture start.
// Keys are unmapped addresses (4-byte IPv4, see netip.Addr.Unmap). It is safe for
// concurrent use as long as nobody writes to it.
type Identities map[netip.Addr]Identity

// Resolve implements Resolver.
func (m Identities) Resolve(ip netip.Addr) (Identity, bool) {
	id, ok := m[ip.Unmap()]
	return id, ok
}
