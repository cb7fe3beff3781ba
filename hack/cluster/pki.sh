#!/bin/bash
# pki.sh: kubeadm-style PKI for the test cluster, made with openssl (ECDSA P-256 keys).
#
# Writes $STATE/pki/ (CA, apiserver, apiserver->kubelet client, kubelet serving + client,
# controller-manager, scheduler, kube-proxy, admin, service-account key pair), the components'
# kubeconfigs and the admin kubeconfig $STATE/kubeconfig. The node's name and IP are baked into
# the certificates, so it regenerates everything when they (or the service range) change, and
# exits 3 in that case so up.sh knows the old cluster data (etcd, kubelet) is stale. Exit 0:
# PKI unchanged or freshly made for an empty state.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
detect_node

P=$STATE/pki
# kubeconfig FILE USER-CERT-BASENAME
kubeconfig() {
	cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kubectl-shark
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$2.crt")
    client-key-data: $(base64 -w0 "$2.key")
contexts:
- name: kubectl-shark
  context: {cluster: kubectl-shark, user: $2}
current-context: kubectl-shark
EOF
}
identity="node=$NODE_NAME ip=$NODE_IP apisvc=$API_SERVICE_IP pki=v1"
if [ -f "$P/identity" ] && [ "$(cat "$P/identity")" = "$identity" ]; then
	if [ ! -f "$KUBECONFIG_FILE" ]; then
		(cd "$P" && umask 077 && kubeconfig "$KUBECONFIG_FILE" admin)
	fi
	exit 0
fi
changed=0
if [ -f "$P/identity" ]; then
	log "node identity changed ($(cat "$P/identity") -> $identity): regenerating the PKI"
	changed=3
fi
rm -rf "$P"
mkdir -p "$P"
cd "$P"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=kubectl-shark-cluster-ca" -days 3650 -out ca.crt \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign,cRLSign"
key sa.key
openssl pkey -in sa.key -pubout -out sa.pub

# cert NAME SUBJECT EXTENDED-KEY-USAGE [SUBJECT-ALT-NAMES]
cert() {
	local n=$1 subj=$2 eku=$3 san=${4:-}
	key "$n.key"
	openssl req -new -key "$n.key" -subj "$subj" -out "$n.csr"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$eku"
		if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
	} > "$n.ext"
	openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
		-extfile "$n.ext" -out "$n.crt" 2>/dev/null
	rm -f "$n.csr" "$n.ext"
}
cert apiserver "/CN=kube-apiserver" serverAuth \
	"DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$NODE_IP"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
cert admin "/O=system:masters/CN=kubernetes-admin" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert kube-proxy "/CN=system:kube-proxy" clientAuth
cert kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
cert kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" serverAuth \
	"DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1"
rm -f ca.srl

kubeconfig controller-manager.conf controller-manager
kubeconfig scheduler.conf scheduler
kubeconfig kube-proxy.conf kube-proxy
kubeconfig kubelet.conf kubelet-client
kubeconfig "$KUBECONFIG_FILE.tmp" admin
mv -f "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
echo "$identity" > identity
log "PKI for node $NODE_NAME ($NODE_IP) written to $P"
exit $changed
