package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/resolve"
)

const secretsHelp = `usage: envinit secrets ACTION [flags] ARGS

Manages the store's layout (SSM Parameter Store, under ENVINIT_PREFIX) so
that nobody hand-edits parameter names or the special keys __sensitive and
__import_svc. Every parameter is written as a SecureString.

actions:
  set SERVICE KEY      store KEY's value, read from stdin (or prompted for,
                       without echo, at a terminal); never from the command
                       line, where shell history and ps would keep it
  get SERVICE KEY      print KEY's stored value (references unresolved)
  list SERVICE         print the keys, their sensitivity and the imports;
                       never a value
  unset SERVICE KEY    remove KEY (and drop it from __sensitive)
  import SERVICE FILE  set every KEY=VALUE of a dotenv FILE (- for stdin)
  import-from SERVICE ALIAS...
                       make SERVICE import ALIAS... (sets __import_svc)

With --global, the action is on the globals and SERVICE is left out:
  envinit secrets set --global DB_HOST

'envinit secrets ACTION --help' shows an action's flags and examples.
`

// secretStore is what the secrets tool needs of the store: fetch.Writer,
// or a fake in tests.
type secretStore interface {
	ServiceDir(alias string) string
	GlobalDir() string
	Read(ctx context.Context, dir string) (map[string]resolve.Value, error)
	Put(ctx context.Context, dir, key string, value resolve.Value, kmsKeyID string) error
	Delete(ctx context.Context, dir, key string) error
}

var _ secretStore = (*fetch.Writer)(nil)

// secretsCmd is one run of `envinit secrets`.
type secretsCmd struct {
	c       config
	store   secretStore
	stdin   io.Reader
	tty     *os.File // stdin when it is a terminal: values are prompted for
	stdout  io.Writer
	stderr  io.Writer
	environ []string
}

// runSecrets is `envinit secrets`. stdin is where set reads a value.
func runSecrets(ctx context.Context, args, environ []string, stdin *os.File, stdout, stderr io.Writer) error {
	s := &secretsCmd{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	if stdin != nil && isTerminal(int(stdin.Fd())) {
		s.tty = stdin
	}
	return s.run(ctx, args)
}

func (s *secretsCmd) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(s.stderr, secretsHelp)
		return &toolUsageError{"secrets", "no action: want set, get, list, unset, import or import-from"}
	}
	action := secretsActions[args[0]]
	switch {
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
		fmt.Fprint(s.stdout, secretsHelp)
		return nil
	case action == nil:
		return &toolUsageError{"secrets", fmt.Sprintf("unknown action %q: want set, get, list, unset, import or import-from", args[0])}
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	s.c = c
	name := "secrets " + args[0]
	fs := newToolFlags(name)
	fs.StringVar(&s.c.Prefix, "prefix", s.c.Prefix, "SSM path of the environment (ENVINIT_PREFIX)")
	fs.DurationVar(&s.c.Timeout, "timeout", s.c.Timeout, "deadline for each call to the store (ENVINIT_TIMEOUT)")
	fs.StringVar(&s.c.Store, "store", s.c.Store, "must be ssm: the secrets tool writes to SSM Parameter Store (ENVINIT_STORE)")
	global := fs.Bool("global", false, "act on the globals ({prefix}/global) instead of a service")
	opts := action.flags(fs, s)
	pos, done, err := parseTool(fs, name, action.help, args[1:], s.stdout)
	if done || err != nil {
		return err
	}
	t, pos, err := s.target(name, *global, pos, action)
	if err != nil {
		return err
	}
	if len(pos) < action.args[0] || len(pos) > action.args[1] && action.args[1] >= 0 {
		// Arguments are counted, never printed: a value put on the
		// command line by mistake must not be echoed back.
		if args[0] == "set" && len(pos) > action.args[1] {
			return &toolUsageError{name, "the value is never taken from the command line (shell history and ps keep it): pipe it on stdin, or run at a terminal to be prompted"}
		}
		return &toolUsageError{name, fmt.Sprintf("got %d arguments; want %s", len(pos), action.synopsis(*global))}
	}
	if action.usage == "KEY" {
		if err := checkKeyArg(name, pos[0]); err != nil {
			return err
		}
	}
	if err := s.validateConfig(); err != nil {
		return err
	}
	if s.store == nil {
		ssm, err := fetch.Load(ctx, s.c.Prefix, fetch.Retry{})
		if err != nil {
			return err
		}
		w, err := fetch.NewWriter(ssm)
		if err != nil {
			return err
		}
		s.store = w
	}
	s.store = timedStore{s.store, s.c.Timeout}
	return action.run(ctx, s, t, pos, opts)
}

// checkKeyArg refuses a KEY argument that is not a name, without printing
// it: "KEY=VALUE" is a value typed on the command line.
func checkKeyArg(name, key string) error {
	switch {
	case strings.Contains(key, "="):
		return &toolUsageError{name, "KEY=VALUE: the value is never taken from the command line (shell history and ps keep it): give KEY alone and pipe the value on stdin, or run at a terminal to be prompted"}
	case !validDotenvName(key):
		return &toolUsageError{name, "KEY is not a valid name ([A-Za-z_][A-Za-z0-9_]*)"}
	}
	return nil
}

// validateConfig checks the configuration the secrets tool uses. The
// service comes from the command line, not ENVINIT_SERVICE.
func (s *secretsCmd) validateConfig() error {
	if s.c.Store != "ssm" {
		return &configError{"ENVINIT_STORE: envinit secrets writes to SSM Parameter Store only; a file: store is a JSON file: edit it (unset ENVINIT_STORE, or pass --store ssm)"}
	}
	c := s.c
	c.Service = "x" // validate checks a service that this tool does not use
	if err := c.validate(); err != nil {
		return err
	}
	s.c.Prefix = c.Prefix
	return nil
}

// target is what an action works on: a service, or the globals.
type target struct {
	global bool
	alias  string
}

// ref names key in the notation of references and errors: $alias/KEY or $/KEY.
func (t target) ref(key string) string { return "$" + t.alias + "/" + key }

func (t target) String() string {
	if t.global {
		return "the globals"
	}
	return "$" + t.alias
}

func (t target) dir(st secretStore) string {
	if t.global {
		return st.GlobalDir()
	}
	return st.ServiceDir(t.alias)
}

// target takes SERVICE off the positional arguments, unless global.
func (s *secretsCmd) target(name string, global bool, pos []string, a *secretsAction) (target, []string, error) {
	if global {
		if !a.global {
			return target{}, nil, &toolUsageError{name, "--global does not apply here: imports are a service's"}
		}
		return target{global: true}, pos, nil
	}
	if len(pos) == 0 {
		return target{}, nil, &toolUsageError{name, "no SERVICE: want " + a.synopsis(false)}
	}
	alias := pos[0]
	if !resolve.ValidAlias(alias) {
		return target{}, nil, &toolUsageError{name, fmt.Sprintf("%q is not a service alias: write it as ENVINIT_SERVICE takes it, e.g. svc-abc (no $)", alias)}
	}
	return target{alias: alias}, pos[1:], nil
}

// secretsAction is one action of `envinit secrets`.
type secretsAction struct {
	args   [2]int // how many arguments after SERVICE: least, most (-1: any)
	usage  string // the arguments after SERVICE, for messages
	global bool   // --global applies
	help   string
	flags  func(fs flagSet, s *secretsCmd) any
	run    func(ctx context.Context, s *secretsCmd, t target, args []string, opts any) error
}

func (a *secretsAction) synopsis(global bool) string {
	if global {
		return "--global " + a.usage
	}
	return "SERVICE " + a.usage
}

var secretsActions map[string]*secretsAction

func init() {
	secretsActions = map[string]*secretsAction{
		"set":         {args: [2]int{1, 1}, usage: "KEY", global: true, help: setHelp, flags: setFlags, run: runSet},
		"get":         {args: [2]int{1, 1}, usage: "KEY", global: true, help: getHelp, flags: noFlags, run: runGet},
		"list":        {args: [2]int{0, 0}, usage: "", global: true, help: listHelp, flags: noFlags, run: runList},
		"unset":       {args: [2]int{1, 1}, usage: "KEY", global: true, help: unsetHelp, flags: noFlags, run: runUnset},
		"import":      {args: [2]int{1, 1}, usage: "FILE", global: true, help: importHelp, flags: importFlags, run: runImport},
		"import-from": {args: [2]int{1, -1}, usage: "ALIAS...", help: importFromHelp, flags: noFlags, run: runImportFrom},
	}
}

func noFlags(flagSet, *secretsCmd) any { return nil }

const setHelp = `usage: envinit secrets set SERVICE KEY [--sensitive | --no-sensitive] [--kms-key-id ID] [--raw]
       envinit secrets set --global KEY ...

Stores KEY's value as the SecureString {prefix}/services/SERVICE/KEY (or
{prefix}/global/KEY). The value is read from stdin, less one trailing
newline (--raw keeps it); at a terminal it is prompted for twice, without
echo. It is never taken from the command line.

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
  envinit secrets set --global DB_HOST < host.txt

flags:
`

const getHelp = `usage: envinit secrets get SERVICE KEY
       envinit secrets get --global KEY

Prints KEY's value as stored, references unresolved (envinit render
--reveal shows it resolved). It is the one action that prints a value: you
asked for it. At a terminal a newline follows it; into a pipe or a file the
value is written byte for byte.

examples:
  envinit secrets get api DATABASE_URL
  envinit secrets get api TLS_KEY > key.pem

flags:
`

const listHelp = `usage: envinit secrets list SERVICE
       envinit secrets list --global

Prints the keys, one per line, each with "sensitive" or "-", then the
services SERVICE imports. Never a value: the store, not the tool, holds
those.

examples:
  envinit secrets list api
  envinit secrets list --global

flags:
`

const unsetHelp = `usage: envinit secrets unset SERVICE KEY
       envinit secrets unset --global KEY

Removes KEY, then drops it from __sensitive. "unset SERVICE __import_svc"
removes every import. A reference to KEY elsewhere will fail: envinit check
finds those.

examples:
  envinit secrets unset api OLD_TOKEN

flags:
`

const importHelp = `usage: envinit secrets import SERVICE FILE [--sensitive KEY,...] [--kms-key-id ID]
       envinit secrets import --global FILE ...

Sets every KEY=VALUE of a dotenv FILE (- reads stdin): blank lines and
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
  envinit render --service old --format dotenv --reveal | envinit secrets import new -

flags:
`

const importFromHelp = `usage: envinit secrets import-from SERVICE ALIAS...

Makes SERVICE import every key of the services ALIAS... (sets
__import_svc to "$a, $b"): later ones override earlier ones, SERVICE's own
keys override them all. Each ALIAS must have secrets. It replaces the
list: give every alias SERVICE should import. "envinit secrets unset
SERVICE __import_svc" removes the imports.

examples:
  envinit secrets import-from api shared db

flags:
`

// flagSet is the part of *flag.FlagSet the actions define flags on.
type flagSet interface {
	Bool(name string, value bool, usage string) *bool
	String(name string, value string, usage string) *string
}

// kmsKeyFlag is --kms-key-id, defaulting to ENVINIT_KMS_KEY_ID.
func kmsKeyFlag(fs flagSet, s *secretsCmd) *string {
	def := ""
	for _, kv := range s.environ {
		if v, ok := strings.CutPrefix(kv, "ENVINIT_KMS_KEY_ID="); ok {
			def = v
		}
	}
	return fs.String("kms-key-id", def, "KMS key (id, ARN or alias/NAME) to encrypt with (ENVINIT_KMS_KEY_ID); default: the account's aws/ssm key")
}

type setOpts struct {
	sensitive, noSensitive, raw *bool
	kmsKeyID                    *string
}

func setFlags(fs flagSet, s *secretsCmd) any {
	return &setOpts{
		sensitive:   fs.Bool("sensitive", false, "list KEY in __sensitive: the container gets KEY_FILE instead of KEY"),
		noSensitive: fs.Bool("no-sensitive", false, "take KEY off __sensitive: the container gets KEY"),
		raw:         fs.Bool("raw", false, "store stdin byte for byte (keep a trailing newline)"),
		kmsKeyID:    kmsKeyFlag(fs, s),
	}
}

func runSet(ctx context.Context, s *secretsCmd, t target, args []string, o any) error {
	opts := o.(*setOpts)
	key := args[0]
	if *opts.sensitive && *opts.noSensitive {
		return &toolUsageError{"secrets set", "--sensitive and --no-sensitive: give one"}
	}
	if why := resolve.CheckKey(key); why != "" {
		return &resolve.KeyError{Where: t.String(), Key: key, Reason: why + ": choose another name"}
	}
	dir := t.dir(s.store)
	kv, err := s.store.Read(ctx, dir)
	if err != nil {
		return err
	}
	sens := sensitiveSet(kv)
	want := sens[key]
	switch {
	case *opts.sensitive:
		want = true
	case *opts.noSensitive:
		want = false
	}
	if err := fileConflict(t, kv, sens, key, want); err != nil {
		return err
	}

	value, err := s.readValue(t.ref(key), *opts.raw)
	if err != nil {
		return err
	}
	if err := s.write(ctx, t, kv, []resolve.Secret{{Key: key, Value: value, Sensitive: want}}, *opts.kmsKeyID); err != nil {
		return err
	}
	verb := "set"
	if old, ok := kv[key]; ok && old.Reveal() == value.Reveal() && *opts.kmsKeyID == "" && sens[key] == want {
		verb = "unchanged:"
	}
	fmt.Fprintf(s.stdout, "%s %s%s\n", verb, t.ref(key), describeSensitivity(key, sens[key], want))
	return nil
}

// write stores secrets, skipping values already stored (unless a KMS key
// is given: the value is then encrypted again with it), and brings
// __sensitive in line with their Sensitive, in the order that never leaves
// a sensitive value unlisted: keys becoming sensitive are listed before
// their values are written, keys ceasing to be are unlisted after.
func (s *secretsCmd) write(ctx context.Context, t target, kv map[string]resolve.Value, secrets []resolve.Secret, kmsKeyID string) error {
	sens := sensitiveSet(kv)
	var add, remove []string
	for _, sec := range secrets {
		switch {
		case sec.Sensitive && !sens[sec.Key]:
			add = append(add, sec.Key)
		case !sec.Sensitive && sens[sec.Key]:
			remove = append(remove, sec.Key)
		}
	}
	dir := t.dir(s.store)
	list := kv[resolve.SensitiveKey].Reveal()
	if err := s.putList(ctx, dir, list, add, nil, kmsKeyID); err != nil {
		return err
	}
	if len(add) > 0 {
		list, _ = editList(list, add, nil)
	}
	written := 0
	for _, sec := range secrets {
		if old, ok := kv[sec.Key]; ok && old.Reveal() == sec.Value.Reveal() && kmsKeyID == "" {
			continue
		}
		if err := s.store.Put(ctx, dir, sec.Key, sec.Value, kmsKeyID); err != nil {
			if written > 0 {
				return fmt.Errorf("%d of the values were written before this failure, and __sensitive is up to date for all of them; run the same command again to finish: %w", written, err)
			}
			return err
		}
		written++
	}
	return s.putList(ctx, dir, list, nil, remove, kmsKeyID)
}

// putList writes __sensitive after adding and removing keys, deleting it
// when it becomes empty (SSM holds no empty value), and not at all when the
// set of keys does not change.
func (s *secretsCmd) putList(ctx context.Context, dir, list string, add, remove []string, kmsKeyID string) error {
	next, changed := editList(list, add, remove)
	switch {
	case !changed:
		return nil
	case next == "":
		return s.store.Delete(ctx, dir, resolve.SensitiveKey)
	}
	return s.store.Put(ctx, dir, resolve.SensitiveKey, resolve.NewValue(next), kmsKeyID)
}

// editList returns the __sensitive list after adding and removing keys, as
// comma-separated keys: those listed keep their order (duplicates go),
// added ones follow in the order given. changed reports whether the set of
// keys differs, whatever the spelling of the old list.
func editList(list string, add, remove []string) (next string, changed bool) {
	var keys []string
	for _, k := range resolve.SplitList(list) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	before := len(keys)
	keys = slices.DeleteFunc(keys, func(k string) bool { return slices.Contains(remove, k) })
	changed = len(keys) != before
	for _, k := range add {
		if !slices.Contains(keys, k) && !slices.Contains(remove, k) {
			keys = append(keys, k)
			changed = true
		}
	}
	return strings.Join(keys, ","), changed
}

// sensitiveSet is the keys __sensitive lists.
func sensitiveSet(kv map[string]resolve.Value) map[string]bool {
	set := map[string]bool{}
	for _, k := range resolve.SplitList(kv[resolve.SensitiveKey].Reveal()) {
		set[k] = true
	}
	return set
}

// fileConflict refuses what the entrypoint would: a sensitive KEY next to
// a key KEY_FILE.
func fileConflict(t target, kv map[string]resolve.Value, sens map[string]bool, key string, sensitive bool) error {
	if _, ok := kv[key+"_FILE"]; sensitive && ok {
		return &resolve.KeyError{Where: t.String(), Key: key, Reason: fmt.Sprintf("cannot be sensitive while %s is a key too: the container's %s holds the file's path; rename or unset %s first", key+"_FILE", key+"_FILE", key+"_FILE")}
	}
	if base, ok := strings.CutSuffix(key, "_FILE"); ok && sens[base] {
		if _, exists := kv[base]; exists {
			return &resolve.KeyError{Where: t.String(), Key: key, Reason: fmt.Sprintf("%s is sensitive, so the container's %s holds its file's path; choose another name", base, key)}
		}
	}
	return nil
}

func describeSensitivity(key string, was, now bool) string {
	switch {
	case now && !was:
		return " (now sensitive: the container gets " + key + "_FILE)"
	case now:
		return " (sensitive: the container gets " + key + "_FILE)"
	case was:
		return " (no longer sensitive: the container gets " + key + ")"
	}
	return ""
}

func runGet(ctx context.Context, s *secretsCmd, t target, args []string, _ any) error {
	key := args[0]
	kv, err := s.store.Read(ctx, t.dir(s.store))
	if err != nil {
		return err
	}
	v, ok := kv[key]
	if !ok {
		return s.noKey(t, kv, key)
	}
	out := v.Reveal()
	if f, ok := s.stdout.(*os.File); ok && isTerminal(int(f.Fd())) {
		out += "\n"
	}
	_, err = io.WriteString(s.stdout, out)
	return err
}

// noKey is the error for a key the target does not have.
func (s *secretsCmd) noKey(t target, kv map[string]resolve.Value, key string) error {
	if len(kv) == 0 && !t.global {
		return &resolve.NoSecretsError{Alias: t.alias}
	}
	list := "envinit secrets list " + t.alias
	if t.global {
		list = "envinit secrets list --global"
	}
	return &resolve.KeyError{Where: t.String(), Key: key, Reason: "no such key (" + list + " shows the keys)"}
}

func runList(ctx context.Context, s *secretsCmd, t target, _ []string, _ any) error {
	kv, err := s.store.Read(ctx, t.dir(s.store))
	if err != nil {
		return err
	}
	if len(kv) == 0 {
		if t.global {
			fmt.Fprintln(s.stderr, "envinit: no globals under "+t.dir(s.store))
			return nil
		}
		return &resolve.NoSecretsError{Alias: t.alias}
	}
	sens := sensitiveSet(kv)
	tw := tabwriter.NewWriter(s.stdout, 0, 8, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		switch {
		case k == resolve.SensitiveKey || k == resolve.ImportKey:
		case strings.HasPrefix(k, "__"):
			fmt.Fprintf(tw, "%s\tunknown special key (envinit check reports it)\n", k)
		case sens[k]:
			fmt.Fprintf(tw, "%s\tsensitive\n", k)
		default:
			fmt.Fprintf(tw, "%s\t-\n", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sens)) {
		if _, own := kv[k]; !own {
			fmt.Fprintf(tw, "%s\tsensitive, not a key of %s (an imported key, or a typo: envinit check tells)\n", k, t)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if v, ok := kv[resolve.ImportKey]; ok {
		// The import list holds aliases, not secrets; printed only when it
		// is nothing else.
		aliases, ok := parseImports(v.Reveal())
		if ok {
			fmt.Fprintf(s.stdout, "imports: %s\n", strings.Join(aliases, ", "))
		} else {
			fmt.Fprintf(s.stdout, "imports: malformed %s (envinit check explains; envinit secrets import-from %s ALIAS... rewrites it)\n", resolve.ImportKey, t.alias)
		}
	}
	return nil
}

// parseImports returns the "$alias" entries of an __import_svc value, and
// whether every entry is one.
func parseImports(v string) ([]string, bool) {
	toks := resolve.SplitList(v)
	for _, tok := range toks {
		if a, ok := strings.CutPrefix(tok, "$"); !ok || !resolve.ValidAlias(a) {
			return nil, false
		}
	}
	return toks, len(toks) > 0
}

func runUnset(ctx context.Context, s *secretsCmd, t target, args []string, _ any) error {
	key := args[0]
	if key == resolve.SensitiveKey {
		return &toolUsageError{"secrets unset", "__sensitive is kept by set --sensitive and --no-sensitive: use those"}
	}
	dir := t.dir(s.store)
	kv, err := s.store.Read(ctx, dir)
	if err != nil {
		return err
	}
	if _, ok := kv[key]; !ok {
		return s.noKey(t, kv, key)
	}
	// The value goes first: a failure in between leaves a listed name
	// with no key, which stops a start, rather than an unlisted value.
	if err := s.store.Delete(ctx, dir, key); err != nil {
		return err
	}
	sens := sensitiveSet(kv)
	if err := s.putList(ctx, dir, kv[resolve.SensitiveKey].Reveal(), nil, []string{key}, ""); err != nil {
		return fmt.Errorf("%s was removed, but not from __sensitive, so the service will not start: run the same command again: %w", t.ref(key), err)
	}
	note := ""
	if sens[key] {
		note = " (and from __sensitive)"
	}
	fmt.Fprintf(s.stdout, "unset %s%s\n", t.ref(key), note)
	return nil
}

type importOpts struct {
	sensitive *string
	kmsKeyID  *string
}

func importFlags(fs flagSet, s *secretsCmd) any {
	return &importOpts{
		sensitive: fs.String("sensitive", "", "comma-separated KEYs of FILE to make sensitive"),
		kmsKeyID:  kmsKeyFlag(fs, s),
	}
}

func runImport(ctx context.Context, s *secretsCmd, t target, args []string, o any) error {
	opts := o.(*importOpts)
	file := args[0]
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(s.stdin, maxImportSize+1))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return &configError{fmt.Sprintf("secrets import: cannot read %s: %v", file, unwrapPath(err))}
	}
	if len(data) > maxImportSize {
		return &toolUsageError{"secrets import", fmt.Sprintf("%s is larger than %d MiB: not a dotenv file of secrets?", file, maxImportSize>>20)}
	}
	pairs, errs := parseDotenv(data)
	inFile := map[string]bool{}
	for _, p := range pairs {
		inFile[p.key] = true
	}
	makeSensitive := map[string]bool{}
	for _, k := range resolve.SplitList(*opts.sensitive) {
		if !inFile[k] {
			errs = append(errs, &resolve.KeyError{Where: "--sensitive", Key: k, Reason: "not a key of " + file})
		}
		makeSensitive[k] = true
	}
	if len(errs) > 0 {
		return &importError{file: file, errs: errs}
	}
	if len(pairs) == 0 {
		return &importError{file: file, errs: []error{errors.New("no KEY=VALUE line: nothing to import")}}
	}

	dir := t.dir(s.store)
	kv, err := s.store.Read(ctx, dir)
	if err != nil {
		return err
	}
	sens := sensitiveSet(kv)
	var secrets []resolve.Secret
	for _, p := range pairs {
		want := sens[p.key] || makeSensitive[p.key]
		if err := fileConflict(t, kv, sens, p.key, want); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", p.line, err))
		}
		secrets = append(secrets, resolve.Secret{Key: p.key, Value: resolve.NewValue(p.value), Sensitive: want})
	}
	if len(errs) > 0 {
		return &importError{file: file, errs: errs}
	}
	if err := s.write(ctx, t, kv, secrets, *opts.kmsKeyID); err != nil {
		return err
	}
	set, nSens := 0, 0
	for _, sec := range secrets {
		if sec.Sensitive {
			nSens++
		}
		old, ok := kv[sec.Key]
		unchanged := ok && old.Reveal() == sec.Value.Reveal() && *opts.kmsKeyID == ""
		if !unchanged {
			set++
		}
		if !unchanged || sens[sec.Key] != sec.Sensitive {
			verb := "set"
			if unchanged {
				verb = "unchanged:"
			}
			fmt.Fprintf(s.stdout, "%s %s%s\n", verb, t.ref(sec.Key), describeSensitivity(sec.Key, sens[sec.Key], sec.Sensitive))
		}
	}
	fmt.Fprintf(s.stdout, "imported %d keys into %s: %d set, %d unchanged, %d sensitive\n", len(secrets), t, set, len(secrets)-set, nSens)
	return nil
}

// maxImportSize bounds a dotenv file: far more than any service's keys.
const maxImportSize = 4 << 20

// importError is every problem of a dotenv file, one per line; nothing was
// written.
type importError struct {
	file string
	errs []error
}

func (e *importError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secrets import: %s: nothing was written; fix these and import again:", e.file)
	for _, err := range e.errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Is makes every problem of a file a data error (exit 65).
func (e *importError) Is(target error) bool { return target == resolve.ErrData }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func runImportFrom(ctx context.Context, s *secretsCmd, t target, args []string, _ any) error {
	var entries []string
	for _, a := range args {
		alias := strings.TrimPrefix(a, "$")
		switch {
		case !resolve.ValidAlias(alias):
			return &toolUsageError{"secrets import-from", fmt.Sprintf("%q is not a service alias", a)}
		case alias == t.alias:
			return &toolUsageError{"secrets import-from", "a service cannot import itself"}
		case slices.Contains(entries, "$"+alias):
			return &toolUsageError{"secrets import-from", fmt.Sprintf("%s is given twice", alias)}
		}
		entries = append(entries, "$"+alias)
	}
	var missing []error
	for _, e := range entries {
		kv, err := s.store.Read(ctx, s.store.ServiceDir(e[1:]))
		if err != nil {
			return err
		}
		if len(kv) == 0 {
			missing = append(missing, &resolve.NoSecretsError{Alias: e[1:], Via: "to be imported by " + t.String()})
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("secrets import-from: nothing was written: set the services' secrets first, or check the aliases: %w", errors.Join(missing...))
	}
	list := strings.Join(entries, ", ")
	if err := s.store.Put(ctx, t.dir(s.store), resolve.ImportKey, resolve.NewValue(list), ""); err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "%s imports %s (later ones override earlier ones; its own keys override them all)\n", t, list)
	return nil
}

// readValue reads the value to store for name: at a terminal, prompted for
// twice without echo; otherwise all of stdin, less one trailing newline
// unless raw. It refuses what the entrypoint would refuse, and an empty
// value, which SSM cannot hold.
func (s *secretsCmd) readValue(name string, raw bool) (resolve.Value, error) {
	var v string
	if s.tty != nil {
		var err error
		if v, err = promptSecret(s.tty, s.stderr, name); err != nil {
			return resolve.Value{}, err
		}
	} else {
		b, err := io.ReadAll(io.LimitReader(s.stdin, resolve.MaxValueSize+2))
		if err != nil {
			return resolve.Value{}, fmt.Errorf("reading the value from stdin: %w", err)
		}
		v = string(b)
		if !raw {
			v = strings.TrimSuffix(v, "\n")
			v = strings.TrimSuffix(v, "\r")
		}
	}
	if v == "" {
		return resolve.Value{}, &resolve.ValueError{Where: name, Reason: "empty value, which SSM cannot store: pipe the value on stdin (printf %s VALUE | envinit secrets set ...), or run at a terminal to be prompted; to remove a key, use unset"}
	}
	if why := resolve.CheckValue(v); why != "" {
		return resolve.Value{}, &resolve.ValueError{Where: name, Reason: why}
	}
	return resolve.NewValue(v), nil
}

// timedStore gives every call to the store its own ENVINIT_TIMEOUT: an
// import of many keys is many calls.
type timedStore struct {
	secretStore
	timeout time.Duration
}

func (t timedStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return withTimeout(ctx, &config{Timeout: t.timeout})
}

func (t timedStore) Read(ctx context.Context, dir string) (map[string]resolve.Value, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	kv, err := t.secretStore.Read(ctx, dir)
	return kv, timedOut(ctx, err)
}

func (t timedStore) Put(ctx context.Context, dir, key string, value resolve.Value, kmsKeyID string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return timedOut(ctx, t.secretStore.Put(ctx, dir, key, value, kmsKeyID))
}

func (t timedStore) Delete(ctx context.Context, dir, key string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return timedOut(ctx, t.secretStore.Delete(ctx, dir, key))
}
