package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/resolve"
	"github.com/envinit/envinit/internal/term"
)

// secretsSettings are what every action of envinit secrets uses. The
// service is always the first argument: a write names its target.
var secretsSettings = []string{"prefix", "timeout", "store"}

var globalFlag = flagSpec{Name: "global", Usage: "act on the globals ({prefix}/global) instead of a service"}

var cmdSecrets = &command{
	Name:      "secrets",
	UsageLine: "secrets ACTION [flags] ARGS",
	Short:     "set, get, list, unset, import, import-from secrets",
	Long: `Manages the store's layout (SSM Parameter Store, under ENVINIT_PREFIX) so
that nobody hand-edits parameter names or the special keys __sensitive and
__import_svc. Every parameter is written as a SecureString; a value is
never taken from the command line.

With --global, an action is on the globals and SERVICE is left out.

examples:
  printf %s "$PW" | envinit secrets set api DB_PASSWORD --sensitive
  envinit secrets set --global DB_HOST < host.txt
  envinit secrets list api`,
	Commands: []*command{
		{
			Name: "secrets set", UsageLine: "secrets set [flags] SERVICE KEY", Short: "store KEY's value, read from stdin or prompted for",
			Long: `Stores KEY's value as the SecureString {prefix}/services/SERVICE/KEY (or
{prefix}/global/KEY with --global). The value is read from stdin, less one
trailing newline (--raw keeps it); at a terminal it is prompted for twice,
without echo. It is never taken from the command line, where shell
history and ps would keep it.

--sensitive lists KEY in __sensitive (the container gets KEY_FILE, a file
holding the value, instead of KEY); --no-sensitive takes it off. Without
either, a key keeps its sensitivity and a new key is not sensitive. When a
key becomes sensitive, __sensitive is written before the value; when it
stops being sensitive, after: a failure in between leaves a container that
refuses to start, never a sensitive value in an environment.

SSM encrypts with --kms-key-id, or ENVINIT_KMS_KEY_ID, or else the
account's aws/ssm key: if you use your own key, give it every time.

examples:
  printf %s "$NEW_PASSWORD" | envinit secrets set api DB_PASSWORD --sensitive
  envinit secrets set api DB_PASSWORD          # prompts, without echo
  envinit secrets set --global DB_HOST < host.txt`,
			Settings: append(secretsSettings, "kms-key-id"),
			Flags: []flagSpec{globalFlag,
				{Name: "sensitive", Usage: "list KEY in __sensitive: the container gets KEY_FILE instead of KEY"},
				{Name: "no-sensitive", Usage: "take KEY off __sensitive: the container gets KEY"},
				{Name: "raw", Usage: "store stdin byte for byte (keep a trailing newline)"},
			},
			MinArgs: 1, MaxArgs: -1, Run: runSet,
		},
		{
			Name: "secrets get", UsageLine: "secrets get [flags] SERVICE KEY", Short: "print KEY's stored value (references unresolved)",
			Long: `Prints KEY's value as stored, references unresolved (envinit render
--reveal shows it resolved). It is the one action that prints a value: you
asked for it. At a terminal a newline follows it; into a pipe or a file the
value is written byte for byte.

examples:
  envinit secrets get api DATABASE_URL
  envinit secrets get api TLS_KEY > key.pem`,
			Settings: secretsSettings, Flags: []flagSpec{globalFlag}, MinArgs: 1, MaxArgs: 2, Run: runGet,
		},
		{
			Name: "secrets list", UsageLine: "secrets list [flags] SERVICE", Short: "print the keys, their sensitivity and the imports",
			Long: `Prints the keys, one per line, each with "sensitive" or "-", then the
services SERVICE imports. Never a value: the store, not the tool, holds
those.

examples:
  envinit secrets list api
  envinit secrets list --global`,
			Settings: secretsSettings, Flags: []flagSpec{globalFlag}, MaxArgs: 1, Run: runList,
		},
		{
			Name: "secrets unset", UsageLine: "secrets unset [flags] SERVICE KEY", Short: "remove KEY (and drop it from __sensitive)",
			Long: `Removes KEY, then drops it from __sensitive. "unset SERVICE __import_svc"
removes every import. A reference to KEY elsewhere will fail: envinit check
finds those.

examples:
  envinit secrets unset api OLD_TOKEN`,
			Settings: secretsSettings, Flags: []flagSpec{globalFlag}, MinArgs: 1, MaxArgs: 2, Run: runUnset,
		},
		{
			Name: "secrets import", UsageLine: "secrets import [flags] SERVICE FILE", Short: "set every KEY=VALUE of a dotenv FILE (- for stdin)",
			Long: `Sets every KEY=VALUE of a dotenv FILE (- reads stdin): blank lines and
# comments are skipped, "export " is allowed before KEY, values may be
bare (a " #" starts a comment), 'single-quoted' (literal, may span lines)
or "double-quoted" (\n \r \t \\ \" \$ \' are escapes; may span lines).
Nothing is interpolated: $VAR stays as it is (envinit's references are
#{$/KEY}). Every line is checked before anything is written, and every
problem is reported, by line number, never by content. Values that are
already stored are not written again.

Keys named by --sensitive become sensitive; the others keep their
sensitivity (a new key is not sensitive).

examples:
  envinit secrets import api .env --sensitive DB_PASSWORD,API_TOKEN
  envinit render old --format dotenv --reveal | envinit secrets import new -`,
			Settings: append(secretsSettings, "kms-key-id"),
			Flags:    []flagSpec{globalFlag, {Name: "sensitive", Arg: "KEY,...", Usage: "comma-separated KEYs of FILE to make sensitive"}},
			MinArgs:  1, MaxArgs: 2, Run: runImport,
		},
		{
			Name: "secrets import-from", UsageLine: "secrets import-from [flags] SERVICE ALIAS...", Short: "make SERVICE import ALIAS... (sets __import_svc)",
			Long: `Makes SERVICE import every key of the services ALIAS... (sets
__import_svc to "$a, $b"): later ones override earlier ones, SERVICE's own
keys override them all. Each ALIAS must have secrets. It replaces the
list: give every alias SERVICE should import. "envinit secrets unset
SERVICE __import_svc" removes the imports.

examples:
  envinit secrets import-from api shared db`,
			Settings: secretsSettings, Flags: []flagSpec{globalFlag}, MinArgs: 1, MaxArgs: -1, Run: runImportFrom,
		},
	},
}

// secretsArgs takes SERVICE off the arguments, unless --global, and
// checks that want more remain (-1: any number, at least one). It opens
// the store the action works on.
func secretsArgs(ctx context.Context, inv *invocation, want int) (admin.Store, admin.Target, []string, error) {
	args := inv.args
	t := admin.Target{Global: inv.on("global")}
	if !t.Global {
		if len(args) == 0 {
			return nil, t, nil, usagef(inv.cmd, "no SERVICE: want %s", inv.cmd.UsageLine)
		}
		var err error
		if t, err = admin.ParseTarget(args[0]); err != nil {
			return nil, t, nil, &usageError{cmd: inv.cmd, msg: err.Error()}
		}
		args = args[1:]
	}
	if want >= 0 && len(args) != want || want < 0 && len(args) == 0 {
		if inv.cmd.Name == "secrets set" && len(args) > want {
			return nil, t, nil, usagef(inv.cmd, "the value is never taken from the command line (shell history and ps keep it): pipe it on stdin, or run at a terminal to be prompted")
		}
		return nil, t, nil, usagef(inv.cmd, "got %s after %s; want %s", plural(len(args), "argument"), t, inv.cmd.UsageLine)
	}
	if inv.cmd.Name != "secrets import-from" && inv.cmd.Name != "secrets list" && inv.cmd.Name != "secrets import" {
		if err := admin.CheckKeyArg(args[0]); err != nil {
			return nil, t, nil, &usageError{cmd: inv.cmd, msg: err.Error()}
		}
	}
	if inv.cfg.Store != "ssm" {
		return nil, t, nil, &configError{msg: inv.cfg.source("store") + ": envinit secrets writes to SSM Parameter Store only; a file: store is a JSON file: edit it",
			hints: []string{"unset ENVINIT_STORE, or pass --store ssm"}}
	}
	st, err := inv.writer(ctx, inv.cfg.Prefix)
	if err != nil {
		return nil, t, nil, err
	}
	return admin.PerCall(st, inv.cfg.Timeout), t, args, nil
}

func runSet(ctx context.Context, inv *invocation) error {
	sens := admin.Keep
	switch {
	case inv.on("sensitive") && inv.on("no-sensitive"):
		return usagef(inv.cmd, "--sensitive and --no-sensitive: give one")
	case inv.on("sensitive"):
		sens = admin.MakeSensitive
	case inv.on("no-sensitive"):
		sens = admin.NotSensitive
	}
	st, t, args, err := secretsArgs(ctx, inv, 1)
	if err != nil {
		return err
	}
	c, err := admin.Set(ctx, st, admin.SetRequest{Target: t, Key: args[0], Sensitive: sens, KMSKeyID: inv.cfg.KMSKeyID,
		Value: func() (string, error) { return readValue(inv, t.Ref(args[0])) }})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(inv.stdout, c)
	return err
}

// readValue reads the value set stores: at a terminal, prompted for twice
// without echo; else all of stdin, less one trailing newline unless --raw.
func readValue(inv *invocation, name string) (string, error) {
	if term.IsTerminal(inv.stdin) {
		var v string
		err := term.WithTerminal(inv.stdin, func(tty *os.File) error {
			first, err := term.ReadSecret(tty, "value of "+name+" (not echoed): ")
			if err != nil || first == "" {
				v = first // empty: admin.Set says what an empty value means
				return err
			}
			again, err := term.ReadSecret(tty, "again, to confirm: ")
			if err != nil {
				return err
			}
			if again != first {
				return fmt.Errorf("the two entries differ: nothing was written; run the command again")
			}
			v = first
			return nil
		})
		return v, err
	}
	b, err := io.ReadAll(io.LimitReader(inv.stdin, resolve.MaxValueSize+2))
	if err != nil {
		return "", fmt.Errorf("reading the value from stdin: %w", err)
	}
	v := string(b)
	if !inv.on("raw") {
		v = strings.TrimSuffix(strings.TrimSuffix(v, "\n"), "\r")
	}
	return v, nil
}

func runGet(ctx context.Context, inv *invocation) error {
	st, t, args, err := secretsArgs(ctx, inv, 1)
	if err != nil {
		return err
	}
	v, err := admin.Get(ctx, st, t, args[0])
	if err != nil {
		return err
	}
	out := v.Reveal()
	if f, ok := inv.stdout.(*os.File); ok && term.IsTerminal(f) {
		out += "\n"
	}
	_, err = io.WriteString(inv.stdout, out)
	return err
}

func runList(ctx context.Context, inv *invocation) error {
	st, t, _, err := secretsArgs(ctx, inv, 0)
	if err != nil {
		return err
	}
	l, err := admin.List(ctx, st, t)
	if err != nil {
		return err
	}
	if len(l.Keys) == 0 && t.Global {
		fmt.Fprintln(inv.stderr, "envinit: no globals under "+l.Dir)
	}
	_, err = io.WriteString(inv.stdout, l.String())
	return err
}

func runUnset(ctx context.Context, inv *invocation) error {
	st, t, args, err := secretsArgs(ctx, inv, 1)
	if err != nil {
		return err
	}
	c, err := admin.Unset(ctx, st, t, args[0])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(inv.stdout, c)
	return err
}

func runImport(ctx context.Context, inv *invocation) error {
	st, t, args, err := secretsArgs(ctx, inv, 1)
	if err != nil {
		return err
	}
	file := args[0]
	var data []byte
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(inv.stdin, admin.MaxImportSize+1))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return &configError{msg: fmt.Sprintf("secrets import: cannot read %s: %v", file, unwrapPath(err))}
	}
	if len(data) > admin.MaxImportSize {
		return usagef(inv.cmd, "%s is larger than %d MiB: not a dotenv file of secrets?", file, admin.MaxImportSize>>20)
	}
	r, err := admin.Import(ctx, st, admin.ImportRequest{Target: t, Name: file, Data: data,
		Sensitive: resolve.SplitList(inv.flag("sensitive")), KMSKeyID: inv.cfg.KMSKeyID})
	if err != nil {
		return err
	}
	_, err = io.WriteString(inv.stdout, r.String())
	return err
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func runImportFrom(ctx context.Context, inv *invocation) error {
	st, t, args, err := secretsArgs(ctx, inv, -1)
	if err != nil {
		return err
	}
	msg, err := admin.ImportFrom(ctx, st, t, args)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(inv.stdout, msg)
	return err
}
