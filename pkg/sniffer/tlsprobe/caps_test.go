package tlsprobe

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// TestMain runs the test binary as a child that opens a Probe and reports
// how it went, when TestCapabilities starts it with fewer capabilities.
func TestMain(m *testing.M) {
	if os.Getenv("TLSPROBE_CHILD") != "" {
		os.Exit(capsChild())
	}
	os.Exit(m.Run())
}

// capsChild opens a Probe on the namespace TLSPROBE_NETNS (with the libraries
// TLSPROBE_LIBS, colon-separated, if set; with perf-event uprobes if
// TLSPROBE_PERF is set), prints "ok SOURCE..." or the error on stdout and
// closes it.
func capsChild() int {
	ns, err := os.Open(os.Getenv("TLSPROBE_NETNS"))
	if err != nil {
		fmt.Println("error:", err)
		return 0
	}
	defer ns.Close()
	forcePerfUprobes = os.Getenv("TLSPROBE_PERF") != ""
	var libs []string
	if l := os.Getenv("TLSPROBE_LIBS"); l != "" {
		libs = strings.Split(l, ":")
	}
	p, err := Open(Config{Netns: ns, TLSLibs: libs})
	if err != nil {
		fmt.Println("error:", err)
		return 0
	}
	var sources []string
	for _, l := range p.Libraries() {
		if l.Err == nil {
			sources = append(sources, l.Source)
		}
	}
	if err := p.Close(); err != nil {
		fmt.Println("error: closing:", err)
		return 0
	}
	fmt.Println("ok", strings.Join(sources, " "))
	return 0
}

// allCaps are the capabilities of Linux 6.18 (CAP_LAST_CAP 40).
var allCaps = []string{"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
	"cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner", "cap_sys_module",
	"cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot",
	"cap_sys_nice", "cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
	"cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
	"cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore"}

// TestCapabilities measures what the probe needs: the test binary is run
// again as root with every capability but the ones kept dropped from its
// bounding set (capsh --drop), and opens a Probe there.
func TestCapabilities(t *testing.T) {
	sniffertest.RequireRoot(t)
	needTools(t, "capsh", "nginx")
	pair := sniffertest.NewPair(t)
	sniffertest.StartNginxTLS(t, pair.Server)
	hostLib := findHostLibssl(t)

	for _, tc := range []struct {
		keep   []string
		netns  string
		libs   string
		want   string // output prefix
		reason string
		perf   bool
	}{
		{[]string{"cap_bpf", "cap_perfmon"}, "/proc/self/ns/net", hostLib, "ok flag",
			"CAP_BPF and CAP_PERFMON load and attach everything; CAP_SYS_ADMIN is not needed", false},
		{[]string{"cap_bpf"}, "/proc/self/ns/net", hostLib, "error: loading TLS probes: ",
			"without CAP_PERFMON, kprobe-type programs are refused", false},
		{[]string{"cap_perfmon"}, "/proc/self/ns/net", hostLib, "error: loading TLS probes: ",
			"without CAP_BPF, maps and programs are refused", false},
		{[]string{"cap_bpf", "cap_perfmon", "cap_sys_ptrace"}, pair.Server.Path(), "", "ok maps",
			"with CAP_SYS_PTRACE, nginx's maps are read", false},
		{[]string{"cap_bpf", "cap_perfmon"}, pair.Server.Path(), "", "ok search",
			"without CAP_SYS_PTRACE, nginx's /proc entries are not readable: only the search is left", false},
		{[]string{"cap_bpf", "cap_perfmon"}, "/proc/self/ns/net", hostLib, "error: opening TLS probes: attaching to SSL_write",
			"perf-event uprobes (kernels before 6.6) need CAP_SYS_ADMIN", true},
		{[]string{"cap_bpf", "cap_perfmon", "cap_sys_admin"}, "/proc/self/ns/net", hostLib, "ok flag",
			"perf-event uprobes work with CAP_SYS_ADMIN", true},
	} {
		name := strings.Join(tc.keep, "+")
		if tc.perf {
			name += "/perf"
		}
		t.Run(name+"/"+tc.want, func(t *testing.T) {
			var drop []string
			for _, c := range allCaps {
				if !slices.Contains(tc.keep, c) {
					drop = append(drop, c)
				}
			}
			cmd := exec.Command("capsh", "--drop="+strings.Join(drop, ","), "--shell="+os.Args[0], "--", "-test.run=^$")
			cmd.Env = append(os.Environ(), "TLSPROBE_CHILD=1", "TLSPROBE_NETNS="+tc.netns, "TLSPROBE_LIBS="+tc.libs)
			if tc.perf {
				cmd.Env = append(cmd.Env, "TLSPROBE_PERF=1")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := strings.TrimSpace(string(out))
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("%s: got %q, want %q...", tc.reason, got, tc.want)
			}
			hint := capHint
			if tc.perf {
				hint = perfUprobeHint
			}
			if strings.HasPrefix(tc.want, "error") && !strings.Contains(got, hint) {
				t.Errorf("error %q lacks the hint %q", got, hint)
			}
		})
	}
}

// findHostLibssl returns the agent's own libssl, found as the probe would.
func findHostLibssl(t *testing.T) string {
	t.Helper()
	for _, d := range libDirs() {
		for _, n := range []string{"libssl.so.3", "libssl.so.1.1"} {
			if st, err := os.Stat(d + "/" + n); err == nil && st.Mode().IsRegular() {
				return d + "/" + n
			}
		}
	}
	t.Fatal("no libssl on this machine (apt-get install -y libssl3)")
	return ""
}
