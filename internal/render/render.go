// Package render is what envinit render prints: the variables a start
// would give COMMAND, each annotated with where it comes from and, for a
// sensitive one, the file it goes to (Vars), and the three formats that
// print them (env, dotenv and json). A value stays a resolve.Value until a
// writer prints it, and a sensitive one is printed only when revealed.
//
// The README's "render: what the service would get" is the manual; its
// json section is the schema of Doc.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/execve"
	"github.com/envinit/envinit/internal/resolve"
)

// SensitiveMark stands for a value render does not reveal.
const SensitiveMark = "<sensitive>"

// Var is one variable of render's output. Its value stays a
// resolve.Value until shown prints it.
type Var struct {
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

// JSONVar is a Var in render's JSON.
type JSONVar struct {
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
	OriginOwn       = "own"       // a key of the service itself
	OriginImport    = "import"    // a key of a service it imports
	OriginEnv       = "env"       // a container variable whose references were resolved
	OriginContainer = "container" // a container variable passed on as it is
)

// Vars lists what the exec would give COMMAND, from execve.BuildEnv's
// result: the secrets and resolved container variables, each annotated,
// plus, with all, every other variable of the final environment. A
// sensitive variable is listed under its own name, with its file; its
// NAME_FILE is not listed again.
func Vars(env []string, files []execve.File, res *resolve.Result, alias string, all bool) []Var {
	final := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		final[k] = v
	}
	written := map[string]bool{}
	for _, f := range files {
		written[f.Key] = true
	}

	var out []Var
	listed := map[string]bool{}
	add := func(s resolve.Secret) {
		v := Var{Name: s.Key, Refs: s.Refs, Origin: OriginOwn, Service: s.Origin}
		switch {
		case s.Origin == resolve.OriginEnv:
			v.Origin, v.Service = OriginEnv, ""
		case s.Origin != alias:
			v.Origin = OriginImport
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
			v = Var{Name: name, Value: resolve.NewValue(final[name]), Origin: OriginContainer, Refs: []string{},
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
				out = append(out, Var{Name: k, Value: resolve.NewValue(v), Origin: OriginContainer, Refs: []string{}})
				listed[k] = true
			}
		}
	}
	slices.SortFunc(out, func(a, b Var) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// shown is the value as printed: a sensitive one only with reveal.
func (v Var) shown(reveal bool) string {
	if v.Sensitive && !reveal {
		return SensitiveMark
	}
	return v.Value.Reveal()
}

// WriteEnv prints NAME=value lines as env(1) does, values unquoted: for
// people. A sensitive NAME is followed by its NAME_FILE.
func WriteEnv(w io.Writer, vars []Var, reveal bool) error {
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

// WriteDotenv prints a dotenv file that loads back to exactly these
// values (see dotenv.Quote). Without reveal a sensitive NAME is a comment:
// a file meant to be loaded must not hand an app "<sensitive>" for a
// password.
func WriteDotenv(w io.Writer, vars []Var, reveal bool) error {
	var b strings.Builder
	for _, v := range vars {
		switch {
		case v.Sensitive && !reveal:
			fmt.Fprintf(&b, "# %s=%s (sensitive: envinit writes it to the file in %s; --reveal prints it)\n", v.Name, SensitiveMark, v.FileVar)
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

// Doc is render's JSON document.
type Doc struct {
	Service    string    `json:"service"`
	SecretsDir string    `json:"secrets_dir"` // empty when nothing is sensitive and none is configured
	Revealed   bool      `json:"revealed"`
	Variables  []JSONVar `json:"variables"`
}

// WriteJSON prints Doc, the schema pipelines read (the README's render
// section).
func WriteJSON(w io.Writer, service, dir string, vars []Var, reveal bool) error {
	doc := Doc{Service: service, SecretsDir: dir, Revealed: reveal, Variables: make([]JSONVar, len(vars))}
	for i, v := range vars {
		doc.Variables[i] = JSONVar{Name: v.Name, Value: v.shown(reveal), Sensitive: v.Sensitive, File: v.File, FileVar: v.FileVar,
			Origin: v.Origin, Service: v.Service, Refs: v.Refs, Note: v.Note}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
