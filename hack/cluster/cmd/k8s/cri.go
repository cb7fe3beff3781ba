package main

// Small CRI clients that replace crictl (sigs.k8s.io/cri-tools is not available from the Go
// module proxy here):
//
//	k8s cri-rmp [SOCKET]    like `crictl rmp -fa`: StopPodSandbox + RemovePodSandbox for every
//	                        sandbox, so containerd runs CNI DEL and removes each netns before
//	                        the cluster is discarded.
//	k8s cri-ready [SOCKET]  exit 0 if the runtime's Status reports RuntimeReady (CRI is up).

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const defaultCRISocket = "/run/kubectl-shark-cluster/containerd.sock"

func criClient(args []string) (runtimeapi.RuntimeServiceClient, func(), error) {
	ep := defaultCRISocket
	if len(args) > 0 {
		ep = args[0]
	}
	conn, err := grpc.NewClient("unix://"+ep, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", ep, err)
	}
	return runtimeapi.NewRuntimeServiceClient(conn), func() { conn.Close() }, nil
}

func criReady(args []string) int {
	c, closeConn, err := criClient(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "CRI status:", err)
		return 1
	}
	for _, cond := range st.GetStatus().GetConditions() {
		if cond.Type == runtimeapi.RuntimeReady && cond.Status {
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "CRI runtime not ready: %v\n", st.GetStatus().GetConditions())
	return 1
}

func criRmp(args []string) int {
	c, closeConn, err := criClient(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := c.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "listing pod sandboxes:", err)
		return 1
	}
	rc := 0
	for _, s := range resp.Items {
		if _, err := c.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			fmt.Fprintln(os.Stderr, "stopping sandbox", s.Id, err)
			rc = 1
		}
		if _, err := c.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			fmt.Fprintln(os.Stderr, "removing sandbox", s.Id, err)
			rc = 1
			continue
		}
		fmt.Printf("removed pod sandbox %.13s (%s/%s)\n", s.Id, s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
	}
	return rc
}
