package cli

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// completionShells are the shells `completion` writes scripts for, in help order.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// NewCmdCompletion prints a shell completion script (cobra's generators) for the
// kubectl-shark executable. `kubectl shark ...` itself is completed by kubectl, which
// runs the kubectl_complete-shark helper shipped in the release archives.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for bash, zsh, fish or PowerShell.

It completes the kubectl-shark executable: commands, flags, capture names, workloads.
To complete "kubectl shark ...", kubectl (1.26 or later) needs the helper
kubectl_complete-shark on your PATH instead; it is in every release archive (with krew,
in the plugin's directory: see the caveats of 'kubectl krew info shark'). It is the
two-line script

  #!/bin/sh
  exec kubectl shark __complete "$@"`,
		Example: `  # bash, this shell (needs the bash-completion package)
  source <(kubectl shark completion bash)

  # bash, every new shell
  kubectl shark completion bash > /etc/bash_completion.d/kubectl-shark

  # zsh (compinit must be enabled)
  kubectl shark completion zsh > "${fpath[1]}/_kubectl-shark"

  # fish
  kubectl shark completion fish > ~/.config/fish/completions/kubectl-shark.fish

  # PowerShell
  kubectl shark completion powershell | Out-String | Invoke-Expression`,
		ValidArgs:             completionShells,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf(cmd, "name one shell: bash, zsh, fish or powershell")
			}
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(streams.Out, !noDesc)
			case "zsh":
				if noDesc {
					return root.GenZshCompletionNoDesc(streams.Out)
				}
				return root.GenZshCompletion(streams.Out)
			case "fish":
				return root.GenFishCompletion(streams.Out, !noDesc)
			case "powershell":
				if noDesc {
					return root.GenPowerShellCompletion(streams.Out)
				}
				return root.GenPowerShellCompletionWithDesc(streams.Out)
			}
			return usageErrorf(cmd, "unknown shell %q: use bash, zsh, fish or powershell", args[0])
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "Complete without descriptions")
	return cmd
}
