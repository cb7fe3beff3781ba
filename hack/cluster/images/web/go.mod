// Test and demo HTTP server/client of the kubectl-shark test cluster (standard library only).
module github.com/kubectl-shark/kubectl-shark/hack/cluster/images/web

go 1.24.0
