#!/bin/bash
# down.sh: stop the test cluster and undo what up.sh did to the host. WIPE=1 also deletes $STATE
# (PKI, etcd, images, logs); without it the next up.sh resumes with the same data.
#
# Order: kubelet first (so nothing restarts pods), then every pod sandbox is stopped and removed
# through CRI (so containerd runs CNI DEL: veths, IPs, netns and the CNI iptables rules go away),
# then kube-proxy (+ --cleanup), the control plane, etcd, containerd. Only processes recorded by
# up.sh (PID + start time) are signalled, plus the containerd shims and pod processes that our
# containerd/kubelet left behind (found by our socket path / our kubepods cgroups).
# Then: unmount what is mounted under $STATE and $RUN_DIR, delete the iptables chains up.sh did
# not find (KUBE-*, CNI-*), the shark0 bridge, the kubepods cgroups, and restore the sysctls.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
cluster_lock

# stop NAME...: SIGTERM the recorded processes together, wait up to 15 s, then SIGKILL.
stop() {
	local n pid pids=() names=() deadline alive
	for n in "$@"; do
		if pid=$(pid_of "$n"); then
			pids+=("$pid")
			names+=("$n")
		fi
	done
	if [ ${#pids[@]} -eq 0 ]; then
		for n in "$@"; do rm -f "$STATE/pids/$n.pid"; done
		return 0
	fi
	kill -TERM "${pids[@]}" 2>/dev/null || true
	deadline=$(($(date +%s) + 15))
	while :; do
		alive=()
		for n in "${names[@]}"; do
			if pid=$(pid_of "$n"); then alive+=("$pid"); fi
		done
		[ ${#alive[@]} -gt 0 ] || break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			warn "killing ${alive[*]} (did not exit within 15 s of SIGTERM)"
			kill -KILL "${alive[@]}" 2>/dev/null || true
		fi
		sleep 0.1
	done
	for n in "$@"; do rm -f "$STATE/pids/$n.pid"; done
	log "stopped ${names[*]} (${pids[*]})"
}

K8S=$(k8s_bin_dir)/k8s
was_running=0
for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null && was_running=1; done

stop kubelet
if pid_of containerd >/dev/null && [ -S "$SOCK" ] && [ -x "$K8S" ]; then
	"$K8S" cri-rmp "$SOCK" | sed 's/^/  /' || warn "removing some pod sandboxes failed"
fi
stop kube-proxy
if [ -x "$K8S" ] && [ $was_running = 1 ]; then
	# removes kube-proxy's rules; it exits 1 when ipset (for IPVS leftovers) is not installed,
	# which does not matter here: the generic KUBE-*/CNI-* cleanup below removes the rest
	"$K8S" kube-proxy --cleanup > "$STATE/logs/kube-proxy-cleanup.log" 2>&1 || true
fi
stop kube-controller-manager kube-scheduler
stop kube-apiserver
stop etcd
stop containerd

# Leftovers of our containerd: shims (they carry our socket in their arguments) and processes
# still in the pod cgroups our kubelet created. Normally there are none after cri-rmp.
for p in /proc/[0-9]*; do
	if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q -- "-address $SOCK "; then
		warn "killing leftover shim ${p#/proc/}"
		kill -KILL "${p#/proc/}" 2>/dev/null || true
	fi
done
if [ $was_running = 1 ]; then
	for f in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods /sys/fs/cgroup/unified/kubepods; do
		[ -d "$f" ] || continue
		find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
			warn "killing leftover pod process $pid ($(cat "/proc/$pid/comm" 2>/dev/null))"
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
fi

# Mounts under our directories (kubelet volumes, sandbox shm, rootfs overlays), deepest first.
umount_under() {
	local m
	awk -v a="$1/" '{gsub(/\\040/, " ", $2); if (index($2, a) == 1) print $2}' /proc/mounts | sort -r |
		while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "cannot unmount $m"
		done
}
umount_under "$STATE"
umount_under "$RUN_DIR"
rm -rf "$RUN_DIR"

# iptables: every KUBE-*/CNI-* chain that did not exist before up.sh, and the rules jumping to it.
H=$STATE/host
before=$H/iptables.before
for ipt in iptables ip6tables; do
	command -v $ipt >/dev/null || continue
	for t in filter nat mangle raw; do
		rules=$($ipt -w 5 -t $t -S 2>/dev/null) || continue
		ours=$(echo "$rules" | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}' | while read -r c; do
			if [ -f "$before" ] && grep -qx "$ipt $t $c" "$before"; then continue; fi
			case $c in
			KUBE-*) echo "$c" ;; # our kubelet's and kube-proxy's (up.sh refuses to share the host)
			CNI-HOSTPORT-*) # portmap's shared chains: only while no port mapping uses them
				if ! echo "$rules" | grep -q -- "^-A $c .*-j CNI-DN-"; then echo "$c"; fi ;;
			CNI-*) # per-sandbox chains: only those of our network / pod range
				if echo "$rules" | grep -- "^-A $c " | grep -qE -- "$CNI_NETWORK|${NODE_POD_CIDR%.*/*}\."; then echo "$c"; fi ;;
			esac
		done)
		[ -n "$ours" ] || continue
		# rules in other chains that jump to ours (e.g. INPUT -j KUBE-FIREWALL, POSTROUTING -j CNI-x)
		echo "$rules" | { grep '^-A ' || true; } | while read -r line; do
			chain=$(echo "$line" | awk '{print $2}')
			target=$(echo "$line" | grep -oE -- '-j [^ ]+' | awk '{print $2}')
			if echo "$ours" | grep -qx -- "$target" && ! echo "$ours" | grep -qx -- "$chain"; then
				eval "$ipt -w 5 -t $t -D ${line#-A }" || warn "cannot delete '$ipt -t $t $line'"
			fi
		done
		for c in $ours; do $ipt -w 5 -t $t -F "$c" 2>/dev/null || true; done
		for c in $ours; do $ipt -w 5 -t $t -X "$c" 2>/dev/null || warn "cannot delete $ipt -t $t chain $c"; done
	done
done

# nftables tables that iptables-nft created for the cluster (ip nat, ip6 mangle, ...): delete
# those that did not exist before up.sh and now hold no rule (only empty base chains)
if [ -f "$H/nft.before" ] && command -v nft >/dev/null; then
	nft list tables 2>/dev/null | while read -r _ family table; do
		grep -qx "table $family $table" "$H/nft.before" && continue
		if ! nft list table "$family" "$table" 2>/dev/null |
			grep -vqE '^\s*(table .*\{|chain .*\{|type .*;|\}|)\s*$'; then
			nft delete table "$family" "$table" 2>/dev/null || true
		fi
	done
	rm -f "$H/nft.before"
fi

# the CNI bridge, the kubelet's pod cgroups, files outside $STATE
if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
for f in /sys/fs/cgroup/*/kubepods; do
	if [ -d "$f" ]; then find "$f" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
done
if [ -d /var/log/containers ]; then
	find /var/log/containers -maxdepth 1 -lname "$STATE/pod-logs/*" -delete 2>/dev/null || true
fi
# directories up.sh found missing: remove them again, as far as they are empty
unmade() {
	local marker
	marker=$H/created$(echo "$1" | tr / _)
	[ -f "$marker" ] || return 0
	if [ -d "$1" ]; then find "$1" -depth -type d -empty -delete 2>/dev/null || true; fi
	if [ ! -e "$1" ]; then rm -f "$marker"; fi
}
# the kubelet's device-plugin socket is always /var/lib/kubelet/device-plugins/kubelet.sock
if [ -f "$H/created_var_lib_kubelet" ]; then rm -f /var/lib/kubelet/device-plugins/kubelet.sock; fi
for d in "${HOST_DIRS[@]}"; do unmade "$d"; done

# sysctls back to their values before up.sh
if [ -f "$H/sysctl.saved" ]; then
	while read -r s v; do
		if [ -f "/proc/sys/$s" ] && [ "$(cat "/proc/sys/$s")" != "$v" ]; then
			if echo "$v" 2>/dev/null > "/proc/sys/$s"; then
				log "restored sysctl ${s//\//.} = $v"
			else
				warn "cannot restore sysctl $s to $v"
			fi
		fi
	done < "$H/sysctl.saved"
	rm -f "$H/sysctl.saved"
fi
rm -f "$before"

if [ "${WIPE:-0}" = 1 ]; then
	if awk -v a="$STATE/" 'index($2, a) == 1 {found = 1} END {exit !found}' /proc/mounts; then
		die "something is still mounted under $STATE; not wiping it"
	fi
	rm -rf "$STATE"
	log "wiped $STATE"
fi
log "cluster down"
