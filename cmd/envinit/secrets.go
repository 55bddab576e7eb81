package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/resolve"
	"github.com/envinit/envinit/internal/term"
)

// The settings of the secrets actions: the reads work on SSM or a file
// store, the writes on SSM, with its KMS key.
var (
	secretsRead  = uses("prefix", "timeout", "store")
	secretsWrite = uses("prefix", "timeout", "store", "kms-key-id")
)

var (
	globalFlag = flagSpec{Name: "global", Usage: "act on the globals ({prefix}/global) instead of a service"}
	forceFlag  = flagSpec{Name: "force", Usage: "write even a change that makes a service's next start fail, and say what it broke"}
	nameFlag   = flagSpec{Name: "name", Arg: "NAME", Usage: "the parameter by its full name instead of SERVICE KEY (one no start reads: secrets list shows them)"}
)

const impactText = `Before it writes anything, it reads the whole environment under the
prefix and resolves, with the entrypoint's own rules, every service the
change touches. A change that would make a service's next start fail (a
dangling or malformed reference, a new cycle, a missing import, an
invalid or forbidden key, a service left with no parameter), or that
would move a variable from its file to the environment (KEY_FILE -> KEY)
other than by --no-sensitive, is refused with exit 65 and nothing
written, naming each service and why; --force writes it anyway and says
what it broke. Every variable the change moves between KEY and KEY_FILE,
in any service, is reported.`

var cmdSecrets = &command{
	Name:      "secrets",
	UsageLine: "secrets ACTION [flags] ARGS",
	Short:     "set, get, list, find, unset, import, export, copy secrets",
	Long: `Manages the store's layout (SSM Parameter Store, under ENVINIT_PREFIX) so
that nobody hand-edits parameter names or the special keys __sensitive and
__import_svc. Every parameter is written as a SecureString; a value is
never taken from the command line. No write can break a service's next
start or move a value out of its file unless forced (--force).

With --global, an action is on the globals and SERVICE is left out. The
reads (get, list, find, export) work on a file store too.

examples:
  printf %s "$PW" | envinit secrets set api DB_PASSWORD --sensitive
  envinit secrets set --global DB_HOST < host.txt
  envinit secrets list api
  envinit secrets copy api api-staging`,
	Commands: []*command{
		{
			Name: "secrets set", UsageLine: "secrets set [flags] SERVICE KEY", Short: "store KEY's value, read from stdin or prompted for",
			Long: `Stores KEY's value as the SecureString {prefix}/services/SERVICE/KEY (or
{prefix}/global/KEY with --global). The value is read from stdin, less one
trailing newline (--raw keeps it); at a terminal it is prompted for twice,
without echo. It is never taken from the command line, where shell
history and ps would keep it.

A "#{" in the value starts a reference (#{$/KEY}, #{$ALIAS/KEY}): one
that does not parse is refused. --literal stores the value so that it
resolves to exactly the bytes given ("#{" written as "##{"): use it for
generated passwords.

--sensitive lists KEY in __sensitive (the container gets KEY_FILE, a file
holding the value, instead of KEY); --no-sensitive takes it off. Without
either, a key keeps what the app gets (one it gets as KEY_FILE, by an
import's __sensitive or a reference to a sensitive value, is listed), and
a new key is not sensitive. When a
key becomes sensitive, __sensitive is written before the value; when it
stops being sensitive, after: a failure in between leaves a container that
refuses to start, never a sensitive value in an environment.

` + impactText + `

SSM encrypts with --kms-key-id, or ENVINIT_KMS_KEY_ID, or else the
account's aws/ssm key: if you use your own key, give it every time.

examples:
  printf %s "$NEW_PASSWORD" | envinit secrets set api DB_PASSWORD --sensitive --literal
  envinit secrets set api DB_PASSWORD          # prompts, without echo
  envinit secrets set --global DB_HOST < host.txt
  echo 'postgres://#{$/DB_HOST}/app' | envinit secrets set api DATABASE_URL`,
			Settings: secretsWrite,
			Flags: []flagSpec{globalFlag,
				{Name: "sensitive", Usage: "list KEY in __sensitive: the container gets KEY_FILE instead of KEY"},
				{Name: "no-sensitive", Usage: "take KEY off __sensitive: the container gets KEY"},
				{Name: "literal", Usage: `store the value so that it resolves to exactly its bytes ("#{" written "##{")`},
				{Name: "raw", Usage: "store stdin byte for byte (keep a trailing newline)"},
				forceFlag,
			},
			MinArgs: 1, MaxArgs: -1, Run: runSet,
		},
		{
			Name: "secrets get", UsageLine: "secrets get [flags] SERVICE KEY", Short: "print KEY's stored value (references unresolved)",
			Long: `Prints KEY's value as stored, references unresolved (envinit render
--reveal shows it resolved). KEY may be any name stored there, one no start
accepts (MY-KEY) included. It is one of the two actions that print a value
(export is the other): you asked for it. At a terminal a newline follows
it; into a pipe or a file the value is written byte for byte.

examples:
  envinit secrets get api DATABASE_URL
  envinit secrets get api TLS_KEY > key.pem
  envinit secrets get api MY-KEY               # written by another tool`,
			Settings: secretsRead, Flags: []flagSpec{globalFlag, nameFlag}, MaxArgs: 2, Run: runGet,
		},
		{
			Name: "secrets list", UsageLine: "secrets list [flags] [SERVICE]", Short: "the services; or a service's keys, what the app gets, versions",
			Long: `Without SERVICE, lists the services (their keys, what their apps get, their
imports, whether they start), the globals with counts, and the parameters
under the prefix that no start reads.

With SERVICE, lists each key as the service's start sees it: the variable
the app gets (KEY, or KEY_FILE for a sensitive one) and why it is
sensitive (listed in __sensitive, listed by a service it imports, or
interpolating a sensitive value), the service it comes from, its version
and its last modification; a key no start accepts is flagged, with the
command that removes it; if the start fails, why. With --global, the
globals and the services that read each.

Never a value: the names, versions and dates come from
DescribeParameters.

examples:
  envinit secrets list
  envinit secrets list api
  envinit secrets list --global`,
			Settings: secretsRead, Flags: []flagSpec{globalFlag}, MaxArgs: 1, Run: runList,
		},
		{
			Name: "secrets find", UsageLine: "secrets find [flags] KEY", Short: "where KEY is defined, what references it, which apps get it",
			Long: `Lists every parameter named KEY (the globals' and each service's), every
value that references one (#{$/KEY}, #{$ALIAS/KEY}), and every service
whose app gets KEY, with how. Never a value.

examples:
  envinit secrets find DB_HOST`,
			Settings: secretsRead, MinArgs: 1, MaxArgs: 1, Run: runFind,
		},
		{
			Name: "secrets unset", UsageLine: "secrets unset [flags] SERVICE KEY", Short: "remove KEY (and drop it from __sensitive)",
			Long: `Removes KEY, then drops it from __sensitive (unless the name still reaches
the service through an import); a name listed in __sensitive that is no
key is dropped from it. KEY may be any name stored there: one no start
accepts (MY-KEY, written by another tool) included. --name removes a
parameter by its full name: one under the prefix that no start reads, as
secrets list shows it. "unset SERVICE __import_svc" removes the imports.

` + impactText + `

examples:
  envinit secrets unset api OLD_TOKEN
  envinit secrets unset --global DB_HOST      # refused while a service references it
  envinit secrets unset api MY-KEY
  envinit secrets unset --name /envinit/services/api/old/TOKEN`,
			Settings: secretsWrite, Flags: []flagSpec{globalFlag, nameFlag, forceFlag}, MaxArgs: 2, Run: runUnset,
		},
		{
			Name: "secrets import", UsageLine: "secrets import [flags] SERVICE FILE", Short: "set every KEY=VALUE of a file: an export, or a dotenv file (- for stdin)",
			Long: `Sets every KEY=VALUE of FILE (- reads stdin), values as given: what
envinit secrets export printed (dotenv or JSON) imports back into an
identical service, references, escapes, __import_svc (replaced) and
__sensitive (added to the service's) included.

A dotenv file: blank lines and # comments are skipped, "export " is
allowed before KEY, values may be bare (a " #" starts a comment),
'single-quoted' (literal, may span lines) or "double-quoted" (\n \r \t \\
\" \$ \' are escapes; may span lines). Nothing is interpolated: $VAR stays
as it is (envinit's references are #{$/KEY}); a "#{" that is no reference
is refused: --literal stores every value as its exact bytes ("#{" written
"##{"). Every line is checked before anything is written, and every
problem is reported, by line number, never by content. Values that are
already stored are not written again.

What envinit render prints is refused (a *_FILE key holding the path of
a secret's file, a <sensitive> placeholder): it is a service resolved and
flattened, not what is stored. --allow-markers imports such lines anyway.

Keys named by --sensitive become sensitive; the others keep what the app
gets (as for set), and a new key is not sensitive.

` + impactText + `

examples:
  envinit secrets import api .env --sensitive DB_PASSWORD,API_TOKEN --literal
  envinit secrets export api | envinit secrets import api-staging -
  ENVINIT_PREFIX=/staging envinit secrets export api > api.env
  ENVINIT_PREFIX=/prod envinit secrets import api api.env`,
			Settings: secretsWrite,
			Flags: []flagSpec{globalFlag,
				{Name: "sensitive", Arg: "KEY,...", Usage: "comma-separated KEYs of FILE to make sensitive"},
				{Name: "literal", Usage: `store every value so that it resolves to exactly its bytes ("#{" written "##{")`},
				{Name: "allow-markers", Usage: "import lines that look like envinit render's output (KEY_FILE=DIR/KEY, <sensitive>)"},
				forceFlag,
			},
			MinArgs: 1, MaxArgs: 2, Run: runImport,
		},
		{
			Name: "secrets import-from", UsageLine: "secrets import-from [flags] SERVICE ALIAS...", Short: "make SERVICE import ALIAS... (sets __import_svc)",
			Long: `Makes SERVICE import every key of the services ALIAS... (sets
__import_svc to "$a, $b"): later ones override earlier ones, SERVICE's own
keys override them all. It replaces the list: give every alias SERVICE
should import. "envinit secrets unset SERVICE __import_svc" removes the
imports.

` + impactText + `

examples:
  envinit secrets import-from api shared db`,
			Settings: secretsWrite, Flags: []flagSpec{globalFlag, forceFlag}, MinArgs: 1, MaxArgs: -1, Run: runImportFrom,
		},
		{
			Name: "secrets export", UsageLine: "secrets export [flags] SERVICE", Short: "print the service as stored, for secrets import",
			Long: `Prints SERVICE's parameters (or the globals' with --global) as stored:
references and escapes unresolved, __import_svc and __sensitive included,
as a dotenv file (values quoted so that secrets import, Docker Compose and
the dotenv libraries read them back unchanged) or, with --format json,
{"service", "global", "prefix", "values": {KEY: value}}. secrets import
reads either back into an identical service. It prints every value,
sensitive ones too: treat the output as a secret. A key no start accepts
(MY-KEY) cannot be carried: unset or rename it first.

examples:
  envinit secrets export api > api.env
  envinit secrets export --global --format json | jq '.values | keys'
  envinit secrets export api | envinit secrets import api-v2 -`,
			Settings: secretsRead,
			Flags: []flagSpec{globalFlag,
				{Name: "format", Arg: "FORMAT", Values: []string{"dotenv", "json"}, Default: "dotenv", Usage: "output format: dotenv or json"},
			},
			MaxArgs: 1, Run: runExport,
		},
		{
			Name: "secrets copy", UsageLine: "secrets copy [flags] SRC DST", Short: "make service DST an exact copy of SRC",
			Long: `Makes service DST an exact copy of service SRC as stored: the same keys
with the same raw values, __import_svc and __sensitive included, so that
DST resolves exactly as SRC does (a reference to $SRC's keys still names
SRC). A DST that has parameters already is refused unless --replace,
which also removes its keys SRC lacks. To copy into another prefix or
region: secrets export, then secrets import there.

` + impactText + `

examples:
  envinit secrets copy api api-staging
  envinit secrets copy api api-staging --replace`,
			Settings: secretsWrite,
			Flags: []flagSpec{
				{Name: "replace", Usage: "DST may have parameters: it becomes an exact copy (its keys SRC lacks are removed)"},
				forceFlag,
			},
			MinArgs: 2, MaxArgs: 2, Run: runCopy,
		},
	},
}

// secretsTarget takes SERVICE off the arguments, unless --global, and
// checks that want more remain (-1: any number, at least one).
func secretsTarget(inv *invocation, want int) (admin.Target, []string, error) {
	args := inv.args
	t := admin.Target{Global: inv.has("global") && inv.on("global")}
	if !t.Global {
		if len(args) == 0 {
			return t, nil, usagef(inv.cmd, "no SERVICE: want %s", inv.cmd.UsageLine)
		}
		var err error
		if t, err = admin.ParseTarget(args[0]); err != nil {
			return t, nil, usagef(inv.cmd, "%s", err)
		}
		args = args[1:]
	}
	if want >= 0 && len(args) != want || want < 0 && len(args) == 0 {
		if inv.cmd.Name == "secrets set" && len(args) > want {
			return t, nil, usagef(inv.cmd, "the value is never taken from the command line (shell history and ps keep it): pipe it on stdin, or run at a terminal to be prompted")
		}
		return t, nil, usagef(inv.cmd, "got %s after %s; want %s", plural(len(args), "argument"), t, inv.cmd.UsageLine)
	}
	return t, args, nil
}

// has reports whether the command has the flag name.
func (inv *invocation) has(name string) bool {
	for _, f := range inv.cmd.Flags {
		if f.Name == name {
			return true
		}
	}
	return false
}

// reading opens the store a read-only action lists: SSM or a file.
func reading(ctx context.Context, inv *invocation) (admin.Reader, error) {
	ctx, cancel := withTimeout(ctx, &inv.cfg)
	defer cancel()
	r, err := inv.reader(ctx, &inv.cfg)
	if err != nil {
		return nil, timedOut(ctx, err)
	}
	return limitedReader{r: r, cfg: &inv.cfg, stderr: inv.stderr}, nil
}

// write opens the store a write changes (SSM only), makes the change op
// makes, and prints what it did on stdout and, when --force overrode a
// refusal, what it broke on stderr.
func write(ctx context.Context, inv *invocation, op func(st admin.Store, o admin.Options) (*admin.Result, error)) error {
	if inv.cfg.Store != "ssm" {
		return &configError{msg: inv.cfg.source("store") + ": envinit secrets writes to SSM Parameter Store only; a file: store is a JSON file: edit it",
			hints: []string{"unset ENVINIT_STORE, or pass --store ssm; the reads (get, list, find, export) work on a file store"}}
	}
	octx, cancel := withTimeout(ctx, &inv.cfg)
	defer cancel()
	st, err := inv.writer(octx, &inv.cfg)
	if err != nil {
		return timedOut(octx, err)
	}
	r, err := op(limitedStore{limitedReader: limitedReader{r: st, cfg: &inv.cfg, stderr: inv.stderr}, st: st},
		admin.Options{Force: inv.on("force"), KMSKeyID: inv.cfg.KMSKeyID})
	if err != nil {
		return err
	}
	if broke := r.Broke(); len(broke) > 0 {
		var b strings.Builder
		b.WriteString("envinit: --force: written, although it breaks:\n")
		for _, l := range broke {
			fmt.Fprintf(&b, "envinit:   %s\n", l)
		}
		b.WriteString("envinit: hint: envinit check SERVICE shows what is left to fix\n")
		io.WriteString(inv.stderr, b.String())
	}
	_, err = io.WriteString(inv.stdout, r.String())
	return err
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
	t, args, err := secretsTarget(inv, 1)
	if err != nil {
		return err
	}
	if err := admin.CheckKeyArg(args[0]); err != nil {
		return usagef(inv.cmd, "%s", err)
	}
	return write(ctx, inv, func(st admin.Store, o admin.Options) (*admin.Result, error) {
		return admin.Set(ctx, st, admin.SetRequest{Target: t, Key: args[0], Sensitive: sens, Literal: inv.on("literal"), Options: o,
			Value: func() (string, error) { return readValue(inv, t.Ref(args[0])) }})
	})
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
				return &resolve.ValueError{Where: name, Reason: "the two entries differ: nothing was written; run the command again"}
			}
			if strings.Contains(first, "#{") && !inv.on("literal") {
				fmt.Fprintln(tty, `note: the value holds "#{", which starts a reference (#{$/KEY}): it is stored as a reference; to store it as typed, run again with --literal`)
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

// keyArgs are the arguments of get and unset: SERVICE KEY (or --global
// KEY), or --name NAME, a parameter's full name.
type keyArgs struct {
	target admin.Target
	key    string
	name   string // --name; "" for SERVICE KEY
}

func parseKeyArgs(inv *invocation) (keyArgs, error) {
	if name, ok := inv.flags["name"]; ok {
		switch {
		case len(inv.args) > 0 || inv.on("global"):
			return keyArgs{}, usagef(inv.cmd, "--name names the parameter in full: give no SERVICE, KEY or --global with it")
		case !strings.HasPrefix(name, "/"):
			return keyArgs{}, usagef(inv.cmd, "--name takes a parameter's full name, starting with /")
		}
		return keyArgs{name: name}, nil
	}
	t, args, err := secretsTarget(inv, 1)
	if err != nil {
		return keyArgs{}, err
	}
	if err := admin.CheckNameArg(args[0]); err != nil {
		return keyArgs{}, usagef(inv.cmd, "%s", err)
	}
	return keyArgs{target: t, key: args[0]}, nil
}

func runGet(ctx context.Context, inv *invocation) error {
	a, err := parseKeyArgs(inv)
	if err != nil {
		return err
	}
	rd, err := reading(ctx, inv)
	if err != nil {
		return err
	}
	var v resolve.Value
	if a.name != "" {
		v, err = admin.GetName(ctx, rd, a.name)
	} else {
		v, err = admin.Get(ctx, rd, a.target, a.key)
	}
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
	if len(inv.args) == 0 && !inv.on("global") {
		rd, err := reading(ctx, inv)
		if err != nil {
			return err
		}
		ov, err := admin.ListAll(ctx, rd)
		if err != nil {
			return err
		}
		_, err = io.WriteString(inv.stdout, ov.String())
		return err
	}
	t, _, err := secretsTarget(inv, 0)
	if err != nil {
		return err
	}
	rd, err := reading(ctx, inv)
	if err != nil {
		return err
	}
	l, err := admin.List(ctx, rd, t)
	if err != nil {
		return err
	}
	if len(l.Keys) == 0 && t.Global {
		fmt.Fprintln(inv.stderr, "envinit: no globals under "+inv.cfg.Prefix+"/global")
		return nil
	}
	_, err = io.WriteString(inv.stdout, l.String())
	return err
}

func runFind(ctx context.Context, inv *invocation) error {
	if err := admin.CheckNameArg(inv.args[0]); err != nil {
		return usagef(inv.cmd, "%s", err)
	}
	rd, err := reading(ctx, inv)
	if err != nil {
		return err
	}
	f, err := admin.Find(ctx, rd, inv.args[0])
	if err != nil {
		return err
	}
	_, err = io.WriteString(inv.stdout, f.String())
	return err
}

func runUnset(ctx context.Context, inv *invocation) error {
	a, err := parseKeyArgs(inv)
	if err != nil {
		return err
	}
	return write(ctx, inv, func(st admin.Store, o admin.Options) (*admin.Result, error) {
		if a.name != "" {
			return admin.UnsetName(ctx, st, a.name, o)
		}
		return admin.Unset(ctx, st, a.target, a.key, o)
	})
}

// noInputError is an input file that cannot be read (exit 66).
type noInputError struct {
	file string
	err  error
}

func (e *noInputError) Error() string { return fmt.Sprintf("cannot read %s: %v", e.file, e.err) }
func (e *noInputError) Unwrap() error { return e.err }

func runImport(ctx context.Context, inv *invocation) error {
	t, args, err := secretsTarget(inv, 1)
	if err != nil {
		return err
	}
	file := args[0]
	var data []byte
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(inv.stdin, admin.MaxImportSize+1))
	} else {
		data, err = readFile(file, admin.MaxImportSize+1)
	}
	if err != nil {
		return &noInputError{file: file, err: unwrapPath(err)}
	}
	if len(data) > admin.MaxImportSize {
		return usagef(inv.cmd, "%s is larger than %d MiB: not a file of secrets?", file, admin.MaxImportSize>>20)
	}
	return write(ctx, inv, func(st admin.Store, o admin.Options) (*admin.Result, error) {
		return admin.Import(ctx, st, admin.ImportRequest{Target: t, Name: file, Data: data,
			Sensitive: resolve.SplitList(inv.flag("sensitive")), Literal: inv.on("literal"), AllowMarkers: inv.on("allow-markers"), Options: o})
	})
}

// readFile reads at most limit bytes of path.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func runImportFrom(ctx context.Context, inv *invocation) error {
	t, args, err := secretsTarget(inv, -1)
	if err != nil {
		return err
	}
	return write(ctx, inv, func(st admin.Store, o admin.Options) (*admin.Result, error) {
		return admin.ImportFrom(ctx, st, t, args, o)
	})
}

func runExport(ctx context.Context, inv *invocation) error {
	t, _, err := secretsTarget(inv, 0)
	if err != nil {
		return err
	}
	rd, err := reading(ctx, inv)
	if err != nil {
		return err
	}
	x, err := admin.Export(ctx, rd, t)
	if err != nil {
		return err
	}
	out := []byte(x.Dotenv())
	if inv.flag("format") == "json" {
		if out, err = x.JSON(); err != nil {
			return err
		}
	}
	_, err = inv.stdout.Write(out)
	return err
}

func runCopy(ctx context.Context, inv *invocation) error {
	for _, a := range inv.args {
		if _, err := admin.ParseTarget(a); err != nil {
			return usagef(inv.cmd, "%s", err)
		}
	}
	return write(ctx, inv, func(st admin.Store, o admin.Options) (*admin.Result, error) {
		return admin.Copy(ctx, st, admin.CopyRequest{From: inv.args[0], To: inv.args[1], Replace: inv.on("replace"), Options: o})
	})
}
