package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

var cmdRender = &command{
	Name:      "render",
	UsageLine: "render [flags] [SERVICE]",
	Short:     "print the environment the service would get",
	Long: `Prints the environment SERVICE (default: --service, or ENVINIT_SERVICE)
would get, resolved exactly as the entrypoint resolves it, without running
anything or writing any file.

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
  envinit render api --format json | jq '.variables[] | select(.sensitive)'
  envinit render api --format dotenv --reveal > .env   # local development only`,
	Settings: uses("service", "prefix", "secrets-dir", "timeout", "override", "user", "log", "store"),
	Flags: []flagSpec{
		{Name: "format", Arg: "FORMAT", Values: []string{"env", "dotenv", "json"}, Default: "env", Usage: "output format: env, dotenv or json"},
		{Name: "reveal", Usage: "print sensitive values instead of " + sensitiveMark},
		{Name: "all", Usage: "print the whole final environment, not only what envinit adds or changes"},
	},
	MaxArgs: 1,
	Run:     runRender,
}

// sensitiveMark stands for a value render does not reveal.
const sensitiveMark = "<sensitive>"

func runRender(ctx context.Context, inv *invocation) error {
	service, err := inv.service()
	if err != nil {
		return err
	}
	c := inv.cfg
	log := logger(inv.stderr, c.Log)
	rctx, cancel := withTimeout(ctx, &c)
	defer cancel()
	src, err := openStore(rctx, &c)
	if err != nil {
		return timedOut(rctx, err)
	}
	g, err := resolve.Gather(rctx, src, service, inv.environ)
	if err != nil {
		return timedOut(rctx, err)
	}
	res, err := resolve.Resolve(g, service, inv.environ)
	if err != nil {
		return err
	}
	dir, home := renderDir(&c, res, log)
	env, files, err := execve.BuildEnv(execve.Env{Container: inv.environ, Refs: res.Env, Secrets: res.Secrets,
		Override: c.Override, Dir: dir, Home: home})
	if err != nil {
		return err
	}
	out := renderVars(env, files, res, service, inv.on("all"))
	reveal := inv.on("reveal")
	switch inv.flag("format") {
	case "env":
		return writeEnv(inv.stdout, out, reveal)
	case "dotenv":
		return writeDotenv(inv.stdout, out, reveal)
	}
	return writeJSON(inv.stdout, service, dir, out, reveal)
}

// withTimeout bounds a tool's work by ENVINIT_TIMEOUT, with the error that
// names it.
func withTimeout(ctx context.Context, c *config) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, c.Timeout,
		fmt.Errorf("%s (%s) ran out: raise it with --timeout: %w", c.source("timeout"), c.Timeout, context.DeadlineExceeded))
}

// renderDir is the secrets directory the exec would use here, found the
// way it finds it, without creating anything, and ENVINIT_USER's home.
// Where the exec would fail (no memory filesystem, a directory it
// refuses, a user it cannot switch to) render still shows the path it
// would try, and says why on stderr: the exec's error is for the start,
// not for a preview on a workstation.
func renderDir(c *config, res *resolve.Result, log *slog.Logger) (dir, home string) {
	var user *execve.User
	if c.User != "" {
		if u, err := execve.ParseUser(c.User); err == nil {
			user, home = &u, u.Home
		}
	}
	d, err := secretsDir(c, res, user)
	if err == nil {
		defer d.Close()
		return d.Path(), home
	}
	path := c.SecretsDir
	if path == "" {
		path = "/dev/shm/envinit" // the default's fallback, where the exec fails last
	}
	log.Warn("envinit: the command could not start here: its secret files have nowhere safe to go", "dir", path, "error", err.Error())
	return path, home
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
// values (see dotenv.Quote). Without reveal a sensitive NAME is a comment:
// a file meant to be loaded must not hand an app "<sensitive>" for a
// password.
func writeDotenv(w io.Writer, vars []renderVar, reveal bool) error {
	var b strings.Builder
	for _, v := range vars {
		switch {
		case v.Sensitive && !reveal:
			fmt.Fprintf(&b, "# %s=%s (sensitive: envinit writes it to the file in %s; --reveal prints it)\n", v.Name, sensitiveMark, v.FileVar)
		default:
			fmt.Fprintf(&b, "%s=%s\n", v.Name, dotenv.Quote(v.Value.Reveal()))
		}
		if v.Sensitive {
			fmt.Fprintf(&b, "%s=%s\n", v.FileVar, dotenv.Quote(v.File))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
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
