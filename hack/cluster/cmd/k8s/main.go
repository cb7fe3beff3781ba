// Command k8s is an all-in-one (hyperkube-style) Kubernetes v1.33 binary for the kubectl-shark
// test cluster: one static executable that runs any component, chosen by its first argument or
// by the name it is invoked as (so a symlink named kubectl runs kubectl).
//
//	k8s etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy [flags]
//	k8s kubectl [args]          (or: a symlink named kubectl)
//	k8s cri-rmp [SOCKET]        stop and remove every pod sandbox through CRI
//	k8s cri-ready [SOCKET]      exit 0 once the CRI runtime answers Status with RuntimeReady
//
// It exists because the test machines have no Docker and no image registry: the harness in
// hack/cluster builds this once, caches it outside the checkout and runs the components as
// plain processes.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // the containers that embed nothing still need zone data for logs

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl: client auth plugins, as upstream
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

const usage = "usage: k8s {etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl|cri-rmp|cri-ready} [args]"

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "k8s" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	// Components (kubectl's plugin handler in particular) read os.Args themselves: make it look
	// as if the component had been invoked directly.
	os.Args = append([]string{name}, args...)

	var cmd *cobra.Command
	switch name {
	case "cri-rmp":
		os.Exit(criRmp(args))
	case "cri-ready":
		os.Exit(criReady(args))
	case "etcd":
		etcdmain.Main(os.Args)
		return
	case "kubectl":
		if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		return
	case "kube-apiserver":
		cmd = apiserver.NewAPIServerCommand()
	case "kube-controller-manager":
		cmd = kcm.NewControllerManagerCommand()
	case "kube-scheduler":
		cmd = scheduler.NewSchedulerCommand()
	case "kubelet":
		cmd = kubelet.NewKubeletCommand()
	case "kube-proxy":
		cmd = proxy.NewProxyCommand()
	default:
		fmt.Fprintf(os.Stderr, "k8s: unknown component %q\n%s\n", name, usage)
		os.Exit(2)
	}
	cmd.SetArgs(args)
	os.Exit(cli.Run(cmd))
}
