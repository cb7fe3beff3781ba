package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// topCommands are commands every completion of "kubectl-shark <TAB>" must offer.
var topCommands = []string{"capture", "list", "get", "entries", "export", "stop", "start", "delete", "fields", "version", "completion"}

func TestCompletionScripts(t *testing.T) {
	for _, c := range []struct{ shell, want string }{
		{"bash", "complete -o default -F __start_kubectl-shark kubectl-shark"},
		{"zsh", "#compdef kubectl-shark"},
		{"fish", "complete -c kubectl-shark"},
		{"powershell", "Register-ArgumentCompleter -CommandName 'kubectl-shark'"},
	} {
		out, stderr, code := run(t, "completion", c.shell)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("completion %s: exit %d, stderr %q; the script does not contain %q", c.shell, code, stderr, c.want)
		}
		if c.shell == "bash" {
			bashSyntax(t, out)
		}
	}
	out, _, _ := run(t, "completion", "bash", "--no-descriptions")
	if !strings.Contains(out, "__start_kubectl-shark") || !strings.Contains(out, "__completeNoDesc") {
		t.Error("completion bash --no-descriptions does not ask for completions without descriptions")
	}
}

func bashSyntax(t *testing.T, script string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Log("no bash: syntax not checked")
		return
	}
	f := filepath.Join(t.TempDir(), "kubectl-shark.bash")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, b)
	}
}

func TestCompletionUsage(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		_, stderr, code := run(t, args...)
		if code != 2 || !strings.Contains(stderr, "bash, zsh, fish or powershell") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming the shells", args, code, stderr)
		}
	}
	// Ours replaces cobra's default completion command: there is exactly one.
	n := 0
	for _, c := range NewCmdShark(genericiooptions.NewTestIOStreamsDiscard()).Commands() {
		if c.Name() == "completion" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d completion commands", n)
	}
	if out, _, _ := run(t, "completion", "-h"); !strings.Contains(out, "kubectl shark completion bash") || !strings.Contains(out, "kubectl_complete-shark") {
		t.Errorf("completion -h does not show how to use it with kubectl:\n%s", out)
	}
}

// TestCompletionComplete asks the hidden __complete command what bash, zsh, fish,
// PowerShell and kubectl_complete-shark all ask it.
func TestCompletionComplete(t *testing.T) {
	out, _, code := run(t, "__complete", "")
	if code != 0 {
		t.Fatalf("__complete: exit %d", code)
	}
	for _, c := range topCommands {
		if !strings.Contains(out, "\n"+c+"\t") && !strings.HasPrefix(out, c+"\t") {
			t.Errorf("__complete '' does not offer %q:\n%s", c, out)
		}
	}
	out, _, _ = run(t, "__complete", "completion", "")
	for _, sh := range completionShells {
		if !strings.Contains(out, sh+"\n") {
			t.Errorf("__complete completion '' does not offer %s:\n%s", sh, out)
		}
	}
}

// TestCompletionInBash loads the bash script into a real bash and completes
// "kubectl-shark <TAB>" and "kubectl-shark completion <TAB>" with it; kubectl-shark is
// this test binary (TestCompletionHelperProcess).
func TestCompletionInBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, _, _ := run(t, "completion", "bash")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "completion.bash"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stub := "#!/bin/sh\nexec " + shellQuote(self) + " -test.run='^TestCompletionHelperProcess$' -- \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "kubectl-shark"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		// The script needs _get_comp_words_by_ref from the bash-completion package; a
		// minimal one does for words without '=' or ':'.
		prog := `if [ -r /usr/share/bash-completion/bash_completion ]; then
	source /usr/share/bash-completion/bash_completion
else
	_get_comp_words_by_ref() {
		cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
	}
fi
source completion.bash
COMP_WORDS=(` + strings.Join(quoteAll(words), " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
__start_kubectl-shark 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "SHARK_COMPLETION_HELPER=1")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash: %v", err)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			// With descriptions, bash shows "capture   (Start sniffers ...)": keep the word.
			if f := strings.Fields(l); len(f) > 0 {
				got = append(got, f[0])
			}
		}
		return got
	}
	got := strings.Join(complete("kubectl-shark", ""), " ")
	for _, c := range topCommands {
		if !strings.Contains(" "+got+" ", " "+c+" ") {
			t.Errorf("bash completes 'kubectl-shark <TAB>' to %q: no %s", got, c)
		}
	}
	if got := strings.Join(complete("kubectl-shark", "completion", "f"), " "); got != "fish" {
		t.Errorf("bash completes 'kubectl-shark completion f<TAB>' to %q, want fish", got)
	}
}

// TestCompletionHelperProcess is kubectl-shark for TestCompletionInBash.
func TestCompletionHelperProcess(t *testing.T) {
	if os.Getenv("SHARK_COMPLETION_HELPER") != "1" {
		t.Skip("run by TestCompletionInBash")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(Execute(t.Context(), args, genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}
