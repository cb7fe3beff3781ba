// Package capture is kubectl-shark's control plane: it resolves a workload to its
// pods, builds one sniffer pod per target (a pure, golden-tested function), creates
// and watches them, follows new pods of the workload, reaches every sniffer through
// port-forward, pushes KFL queries down to them and merges their answers by
// timestamp. It never imports cobra: commands pass it plain config structs.
package capture
