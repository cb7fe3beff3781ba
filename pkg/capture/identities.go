package capture

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
)

// Identities maps the cluster's pod and service IPs to their Kubernetes identities,
// as the KFL Kubernetes variables need them: pod IP → pod (namespace, labels,
// annotations, node, and the service selecting it), ClusterIP → service. What the
// user may not list is skipped with a warning: filters then see defaults.
func Identities(ctx context.Context, c Clients, warn Progress) map[string]kfl.Identity {
	if warn == nil {
		warn = func(string, ...any) {}
	}
	out := map[string]kfl.Identity{}
	nodeIPs := map[string]string{}
	if nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					nodeIPs[n.Name] = a.Address
					break
				}
			}
		}
	}
	pods, err := c.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		warn("cannot list pods in all namespaces (%v): Kubernetes variables of other namespaces stay empty", err)
		return out
	}
	svcs, err := c.Kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		warn("cannot list services (%v): service variables stay empty", err)
		svcs = &corev1.ServiceList{}
	}
	// The service selecting each pod (the first one, by name order).
	podSvc := map[string]corev1.Service{}
	for _, s := range svcs.Items {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		for _, p := range pods.Items {
			if p.Namespace != s.Namespace || !selects(s.Spec.Selector, p.Labels) {
				continue
			}
			if _, ok := podSvc[p.Namespace+"/"+p.Name]; !ok {
				podSvc[p.Namespace+"/"+p.Name] = s
			}
		}
	}
	for _, p := range pods.Items {
		if p.Spec.HostNetwork {
			continue // its IP is the node's
		}
		id := kfl.Identity{Pod: p.Name, Namespace: p.Namespace, Node: p.Spec.NodeName, NodeIP: nodeIPs[p.Spec.NodeName],
			Labels: p.Labels, Annotations: p.Annotations}
		if s, ok := podSvc[p.Namespace+"/"+p.Name]; ok {
			id.Service, id.ServiceNamespace = s.Name, s.Namespace
		}
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				out[a.Unmap().String()] = id
			}
		}
	}
	for _, s := range svcs.Items {
		for _, ip := range s.Spec.ClusterIPs {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				continue
			}
			out[a.Unmap().String()] = kfl.Identity{Service: s.Name, ServiceNamespace: s.Namespace, Namespace: s.Namespace,
				Labels: s.Labels, DNS: s.Name + "." + s.Namespace + ".svc.cluster.local"}
		}
	}
	return out
}

func selects(sel, lbls map[string]string) bool {
	for k, v := range sel {
		if lbls[k] != v {
			return false
		}
	}
	return true
}
