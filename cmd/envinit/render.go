package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

const renderHelp = `usage: envinit render [--format env|dotenv|json] [--reveal] [--all] [flags]

Prints the environment the service would get, resolved exactly as the
entrypoint resolves it, without running anything or writing any file.

By default only what envinit adds or changes is printed: the service's
secrets (its own and imported) and the container variables whose
references it resolves. --all prints the whole final environment. The
environment envinit resolves against is the one render runs in: run it in
the image to see what the app gets there:

  docker run --rm --entrypoint /envinit IMAGE render

A sensitive KEY is printed as KEY=<sensitive> next to KEY_FILE, the path of
the file the value would be written to; --reveal prints the value instead.

formats:
  env     KEY=value lines, as env(1) prints them (for people)
  dotenv  quoted for Docker Compose env_file and the dotenv libraries;
          without --reveal a sensitive KEY is a comment line
  json    {"service", "secrets_dir", "revealed", "variables": [{"name",
          "value", "sensitive", "file", "file_variable", "origin" (own,
          import, env or container), "service", "refs"}]}

examples:
  ENVINIT_SERVICE=api envinit render
  envinit render --service api --format json | jq '.variables[] | select(.sensitive)'
  envinit render --service api --format dotenv --reveal > .env   # local development only

flags:
`

// sensitiveMark stands for a value render does not reveal.
const sensitiveMark = "<sensitive>"

// runRender is `envinit render`.
func runRender(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	c, err := loadConfig()
	if err != nil {
		return err
	}
	fs := newToolFlags("render")
	c.flags(fs)
	format := fs.String("format", "env", "output format: env, dotenv or json")
	reveal := fs.Bool("reveal", false, "print sensitive values instead of "+sensitiveMark)
	all := fs.Bool("all", false, "print the whole final environment, not only what envinit adds or changes")
	pos, done, err := parseTool(fs, "render", renderHelp, args, stdout)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return &toolUsageError{"render", fmt.Sprintf("takes no arguments, got %d (name the service with --service or ENVINIT_SERVICE)", len(pos))}
	}
	switch *format {
	case "env", "dotenv", "json":
	default:
		return &toolUsageError{"render", "--format must be env, dotenv or json"}
	}
	if err := c.validate(); err != nil {
		return err
	}
	log := c.logger(stderr)

	ctx, cancel := withTimeout(ctx, &c)
	defer cancel()
	src, err := openStore(ctx, &c)
	if err != nil {
		return err
	}
	_, res, err := resolveService(ctx, src, c.Service, environ)
	if err != nil {
		return err
	}
	dir := renderDir(&c, res, log)
	env, files, err := execve.BuildEnv(execve.Env{Container: environ, Refs: res.Env, Secrets: res.Secrets, Override: c.Override, Dir: dir})
	if err != nil {
		return err
	}
	out := renderVars(env, files, res, c.Service, *all)
	switch *format {
	case "env":
		return writeEnv(stdout, out, *reveal)
	case "dotenv":
		return writeDotenv(stdout, out, *reveal)
	}
	return writeJSON(stdout, c.Service, dir, out, *reveal)
}

// renderDir is the secrets directory the exec would use here, found the
// way it finds it, without creating anything. Where the exec would fail
// (no memory filesystem, a directory it refuses) render still shows the
// path it would try, and says why on stderr: the exec's error, exit 73,
// is for the start, not for a preview on a workstation.
func renderDir(c *config, res *resolve.Result, log *slog.Logger) string {
	var user *execve.User
	if c.User != "" {
		if u, err := execve.ParseUser(c.User); err == nil {
			user = &u
		}
	}
	d, err := secretsDir(c, res, user)
	if err == nil {
		// An empty Dir (nothing to write, no directory configured) holds
		// no descriptor to close.
		if d.Path() != "" {
			d.Close()
		}
		return d.Path()
	}
	path := c.SecretsDir
	if path == "" {
		path = "/dev/shm/envinit" // the default's fallback, where the exec fails last
	}
	log.Warn("envinit: the command could not start here: its secret files have nowhere safe to go", "dir", path, "error", err.Error())
	return path
}

// renderVar is one variable of render's output. Its value stays a
// resolve.Value until shown prints it.
type renderVar struct {
	Name      string
	Value     resolve.Value
	Sensitive bool
	File      string // sensitive: the file the value goes to
	FileVar   string // sensitive: NAME_FILE, which holds File
	Origin    string // own, import, env or container
	Service   string // own or import: the service whose key it is
	Refs      []string
	Note      string
}

// jsonVar is a renderVar in render's JSON.
type jsonVar struct {
	Name      string   `json:"name"`
	Value     string   `json:"value"` // <sensitive> unless revealed
	Sensitive bool     `json:"sensitive"`
	File      string   `json:"file,omitempty"`
	FileVar   string   `json:"file_variable,omitempty"`
	Origin    string   `json:"origin"`
	Service   string   `json:"service,omitempty"`
	Refs      []string `json:"refs"` // the references it went through, direct ones
	Note      string   `json:"note,omitempty"`
}

// Origins of a rendered variable.
const (
	originOwn       = "own"       // a key of the service itself
	originImport    = "import"    // a key of a service it imports
	originEnv       = "env"       // a container variable whose references were resolved
	originContainer = "container" // a container variable passed on as it is
)

// renderVars lists what the exec would give COMMAND, from BuildEnv's
// result: the secrets and resolved container variables, each annotated,
// plus, with all, every other variable of the final environment. A
// sensitive variable is listed under its own name, with its file; its
// NAME_FILE is not listed again.
func renderVars(env []string, files []execve.File, res *resolve.Result, alias string, all bool) []renderVar {
	final := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		final[k] = v
	}
	written := map[string]bool{}
	for _, f := range files {
		written[f.Key] = true
	}

	var out []renderVar
	listed := map[string]bool{}
	add := func(s resolve.Secret) {
		v := renderVar{Name: s.Key, Refs: s.Refs, Origin: originOwn, Service: s.Origin}
		switch {
		case s.Origin == resolve.OriginEnv:
			v.Origin, v.Service = originEnv, ""
		case s.Origin != alias:
			v.Origin = originImport
		}
		if v.Refs == nil {
			v.Refs = []string{}
		}
		switch {
		case written[s.Key]:
			v.Value, v.Sensitive = s.Value, true
			v.FileVar = s.Key + "_FILE"
			v.File = final[v.FileVar]
			listed[v.FileVar] = true
		case s.Sensitive || final[s.Key] != s.Value.Reveal():
			// ENVINIT_OVERRIDE=false: the container's KEY or KEY_FILE won.
			// It is listed as the container's, for what it is.
			name := s.Key
			if _, ok := final[name]; !ok {
				name += "_FILE"
			}
			v = renderVar{Name: name, Value: resolve.NewValue(final[name]), Origin: originContainer, Refs: []string{},
				Note: fmt.Sprintf("the container's own value wins over $%s/%s (ENVINIT_OVERRIDE=false)", s.Origin, s.Key)}
		default:
			v.Value = s.Value
		}
		listed[v.Name] = true
		out = append(out, v)
	}
	for _, s := range res.Secrets {
		add(s)
	}
	for _, s := range res.Env {
		add(s)
	}
	if all {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			if !listed[k] {
				out = append(out, renderVar{Name: k, Value: resolve.NewValue(v), Origin: originContainer, Refs: []string{}})
				listed[k] = true
			}
		}
	}
	slices.SortFunc(out, func(a, b renderVar) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// shown is the value as printed: a sensitive one only with reveal.
func (v renderVar) shown(reveal bool) string {
	if v.Sensitive && !reveal {
		return sensitiveMark
	}
	return v.Value.Reveal()
}

// writeEnv prints NAME=value lines as env(1) does, values unquoted: for
// people. A sensitive NAME is followed by its NAME_FILE.
func writeEnv(w io.Writer, vars []renderVar, reveal bool) error {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v.Name, v.shown(reveal))
		if v.Sensitive {
			fmt.Fprintf(&b, "%s=%s\n", v.FileVar, v.File)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDotenv prints a dotenv file that loads back to exactly these
// values (see dotenvQuote). Without reveal a sensitive NAME is a comment:
// a file meant to be loaded must not hand an app "<sensitive>" for a
// password.
func writeDotenv(w io.Writer, vars []renderVar, reveal bool) error {
	var b strings.Builder
	for _, v := range vars {
		switch {
		case v.Sensitive && !reveal:
			fmt.Fprintf(&b, "# %s=%s (sensitive: envinit writes it to the file in %s; --reveal prints it)\n", v.Name, sensitiveMark, v.FileVar)
		default:
			fmt.Fprintf(&b, "%s=%s\n", v.Name, dotenvQuote(v.Value.Reveal()))
		}
		if v.Sensitive {
			fmt.Fprintf(&b, "%s=%s\n", v.FileVar, dotenvQuote(v.File))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dotenvQuote writes a value so that Docker Compose's env_file, the
// dotenv libraries (Go, Node, Python, Ruby) and envinit secrets import
// read it back unchanged:
//
//   - bare when it holds only characters no parser treats specially;
//   - else in single quotes, which every parser reads literally (no
//     escapes, no $ interpolation), when it holds no ' and no \ (Python's
//     dotenv unescapes \\ and \' even there);
//   - else in double quotes with \\, \", \n, \r and \$ escaped: \$ keeps
//     Compose and godotenv from interpolating, and newlines stay on one
//     line.
func dotenvQuote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/:@%+") == "" {
		return s
	}
	if !strings.ContainsAny(s, `'\`) {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// renderDoc is render's JSON document.
type renderDoc struct {
	Service    string    `json:"service"`
	SecretsDir string    `json:"secrets_dir"` // empty when nothing is sensitive and none is configured
	Revealed   bool      `json:"revealed"`
	Variables  []jsonVar `json:"variables"`
}

func writeJSON(w io.Writer, service, dir string, vars []renderVar, reveal bool) error {
	doc := renderDoc{Service: service, SecretsDir: dir, Revealed: reveal, Variables: make([]jsonVar, len(vars))}
	for i, v := range vars {
		doc.Variables[i] = jsonVar{Name: v.Name, Value: v.shown(reveal), Sensitive: v.Sensitive, File: v.File, FileVar: v.FileVar,
			Origin: v.Origin, Service: v.Service, Refs: v.Refs, Note: v.Note}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// The helpers below are shared by the tool subcommands (render, check,
// secrets, docker-build).

// resolveService gathers and resolves alias as the exec form does.
func resolveService(ctx context.Context, src resolve.Source, alias string, environ []string) (*resolve.Graph, *resolve.Result, error) {
	g, err := resolve.Gather(ctx, src, alias, environ)
	if err != nil {
		return nil, nil, timedOut(ctx, err)
	}
	res, err := resolve.Resolve(g, alias, environ)
	if err != nil {
		return nil, nil, err
	}
	return g, res, nil
}

// withTimeout bounds a tool's work by ENVINIT_TIMEOUT, with the error that
// names it.
func withTimeout(ctx context.Context, c *config) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, c.Timeout,
		fmt.Errorf("ENVINIT_TIMEOUT (%s) ran out: raise it with --timeout: %w", c.Timeout, context.DeadlineExceeded))
}

// storeFlags defines the flags of the settings a tool that only reads the
// store uses (check, docker-build), each defaulting to its variable.
func (c *config) storeFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Service, "service", c.Service, "alias of the service (ENVINIT_SERVICE)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "SSM path of the environment (ENVINIT_PREFIX)")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "deadline for reading the store (ENVINIT_TIMEOUT)")
	fs.StringVar(&c.Store, "store", c.Store, "ssm, or file:PATH for a local JSON store (ENVINIT_STORE)")
}

// newToolFlags returns a subcommand's flag set. It prints nothing itself:
// parseTool prints the help, or returns the error.
func newToolFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("envinit "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseTool parses a subcommand's arguments, in which flags and positional
// arguments may be mixed (everything after "--" is positional), and
// returns the positional ones. On --help it prints help and the flags to
// stdout and returns done.
func parseTool(fs *flag.FlagSet, name, help string, args []string, stdout io.Writer) (pos []string, done bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, help)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return nil, true, nil
			}
			return nil, false, &toolUsageError{name, flagError(err)}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), false, nil
		}
		if len(rest) == 0 {
			return pos, false, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// toolUsageError is a bad command line of a subcommand (exit 64: it
// unwraps to a usageError).
type toolUsageError struct{ tool, msg string }

func (e *toolUsageError) Error() string {
	return fmt.Sprintf("%s: %s (envinit %s --help shows the usage)", e.tool, e.msg, e.tool)
}

func (e *toolUsageError) Unwrap() error { return &usageError{e.msg} }
