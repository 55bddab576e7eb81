package main

import (
	"context"

	"github.com/envinit/envinit/internal/cli"
)

var cmdCompletion = &command{
	Name:      "completion",
	UsageLine: "completion SHELL",
	Short:     "print the shell completion script (bash, zsh or fish)",
	Long: `Prints the completion script of SHELL (bash, zsh or fish): commands,
actions, flags, and the values of the flags that take a choice, generated
from envinit's own command table.

examples:
  source <(envinit completion bash)
  envinit completion bash > /usr/share/bash-completion/completions/envinit
  envinit completion zsh > "${fpath[1]}/_envinit"
  envinit completion fish > ~/.config/fish/completions/envinit.fish`,
	Args:    cli.Shells,
	MinArgs: 1, MaxArgs: 1,
	Run: func(_ context.Context, inv *invocation) error {
		return cli.WriteCompletion(inv.stdout, inv.args[0], execCommand, commands)
	},
}
