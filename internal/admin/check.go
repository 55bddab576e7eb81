package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/envinit/envinit/internal/fetch"
	"github.com/envinit/envinit/internal/impact"
	"github.com/envinit/envinit/internal/resolve"
)

// Checked is envinit check's verdict: each service's next start and, over
// the whole environment (CheckAll), what no start reads. It holds no
// value: problems name keys, services and references.
type Checked struct {
	Prefix string
	All    bool              // every service under the prefix, from one read
	Starts []*impact.Outcome // in the order checked
	// Unreferenced, Unread and Strays are CheckAll's warnings: the
	// services no other service imports or references, the globals no
	// start reads, the parameters under the prefix no start reads.
	Unreferenced, Unread []string
	Strays               []fetch.Stray
}

// Check resolves each service of aliases from src exactly as its start
// does (impact.Start), reading what that start reads and nothing else.
// err is a failure to read src, never a problem of the data.
func Check(ctx context.Context, src resolve.Source, prefix string, aliases []string) (*Checked, error) {
	c := &Checked{Prefix: prefix}
	for _, alias := range aliases {
		o, err := impact.Start(ctx, src, alias)
		if err != nil {
			return nil, err
		}
		c.Starts = append(c.Starts, o)
	}
	return c, nil
}

// CheckAll reads the whole environment once and resolves every service
// from that snapshot, with the entrypoint's rules, as the write tools do:
// one listing and one value read per parameter, rather than a start's
// reads per service. An environment with no service is an error: a wrong
// prefix or region looks exactly like it.
func CheckAll(ctx context.Context, rd Reader) (*Checked, error) {
	env, e, err := read(ctx, rd)
	if err != nil {
		return nil, err
	}
	if len(e.Services()) == 0 {
		return nil, &NoServicesError{Prefix: env.Prefix}
	}
	s := e.Survey()
	return &Checked{Prefix: env.Prefix, All: true, Starts: s.Starts, Unreferenced: s.Unreferenced, Unread: s.Unread, Strays: env.Strays}, nil
}

// NoServicesError is an environment with no service at all.
type NoServicesError struct{ Prefix string }

func (e *NoServicesError) Error() string {
	return fmt.Sprintf("no services under %s/services/ (a wrong prefix or region looks exactly like this)", e.Prefix)
}
func (e *NoServicesError) Is(target error) bool { return target == resolve.ErrData }
func (e *NoServicesError) Hints() []string {
	return []string{"ENVINIT_PREFIX (or --prefix) names the environment, AWS_REGION its region; envinit secrets list shows what is there"}
}

// fresh returns, for each start, its problems that no start before it
// has: a problem shared by several services is one line of the text.
func (c *Checked) fresh() [][]error {
	out := make([][]error, len(c.Starts))
	seen := map[string]bool{}
	for i, o := range c.Starts {
		for _, p := range o.Problems {
			if msg := oneLine(p); !seen[msg] {
				seen[msg] = true
				out[i] = append(out[i], p)
			}
		}
	}
	return out
}

// Text is check's text output: each problem on a line of its own, once;
// "ok: ..." for each service that starts; then the warnings.
func (c *Checked) Text() string {
	var b strings.Builder
	fresh := c.fresh()
	for i, o := range c.Starts {
		for _, p := range fresh[i] {
			fmt.Fprintln(&b, oneLine(p))
		}
		if o.OK() {
			fmt.Fprintf(&b, "ok: %s: %s\n", o.Alias, summary(o))
		}
	}
	for _, w := range c.warnings() {
		fmt.Fprintf(&b, "warning: %s\n", w.Message)
	}
	return b.String()
}

// summary says what a start that succeeds gives the app.
func summary(o *impact.Outcome) string {
	vars, files := o.Result.Exported()
	return fmt.Sprintf("%s (%d sensitive, to files), resolved from %s",
		plural(len(vars)+len(files), "variable"), len(files), plural(len(o.Graph.Services()), "service"))
}

// Warning kinds, as check's JSON names them.
const (
	UnreferencedService = "unreferenced_service"
	UnreadGlobal        = "unread_global"
	StrayParameter      = "stray_parameter"
)

// checkWarning is a warning of check's JSON; Message is its text line.
type checkWarning struct {
	Kind      string `json:"kind"`
	Service   string `json:"service,omitempty"`
	Global    string `json:"global,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Message   string `json:"message"`
}

// warnings are what no start reads: never a failure. The text groups the
// services and the globals on a line each; the JSON has one per name.
func (c *Checked) warnings() []checkWarning {
	var out []checkWarning
	if n := len(c.Unreferenced); n > 0 {
		out = append(out, checkWarning{Kind: UnreferencedService, Message: fmt.Sprintf(
			"%s no other service imports or references: %s (each is read only by the containers that name it; one that none names is unused)",
			plural(n, "service"), strings.Join(c.Unreferenced, ", "))})
	}
	if n := len(c.Unread); n > 0 {
		out = append(out, checkWarning{Kind: UnreadGlobal, Message: fmt.Sprintf(
			"%s no service references: %s (no start reads them, unless a container's own variable references one, which the store cannot show)",
			plural(n, "global"), strings.Join(c.Unread, ", "))})
	}
	for _, s := range c.Strays {
		out = append(out, checkWarning{Kind: StrayParameter, Parameter: s.Name, Message: fmt.Sprintf(
			"%s: no start reads it: %s; envinit secrets unset --name %s removes it", s.Name, s.Why, shellWord(s.Name))})
	}
	return out
}

// checkDoc is check's JSON document, the schema in the README's check
// section. Fields may be added; none is renamed or removed.
type checkDoc struct {
	Prefix   string         `json:"prefix"`
	All      bool           `json:"all"`
	OK       bool           `json:"ok"`
	Services []checkService `json:"services"`
	Warnings []checkWarning `json:"warnings"`
}

type checkService struct {
	Service      string         `json:"service"`
	Starts       bool           `json:"starts"`
	Problems     []checkProblem `json:"problems"`
	Variables    int            `json:"variables"` // the variables the app gets, KEY or KEY_FILE; 0 when it does not start
	Sensitive    int            `json:"sensitive"` // of those, the KEY_FILE ones
	ServicesRead int            `json:"services_read"`
}

type checkProblem struct {
	Message string   `json:"message"`
	Hints   []string `json:"hints"` // the commands that fix it, when there are
}

// JSON is check's JSON output: every service with its own problems (a
// problem shared by several services is listed under each), then the
// warnings, one per service, global or parameter.
func (c *Checked) JSON() ([]byte, error) {
	doc := checkDoc{Prefix: c.Prefix, All: c.All, OK: true, Services: []checkService{}, Warnings: []checkWarning{}}
	for _, o := range c.Starts {
		s := checkService{Service: o.Alias, Starts: o.OK(), Problems: []checkProblem{}, ServicesRead: len(o.Graph.Services())}
		for _, p := range o.Problems {
			hints := Fixes([]error{p})
			if hints == nil {
				hints = []string{}
			}
			s.Problems = append(s.Problems, checkProblem{Message: oneLine(p), Hints: hints})
		}
		if o.OK() {
			vars, files := o.Result.Exported()
			s.Variables, s.Sensitive = len(vars)+len(files), len(files)
		}
		doc.OK = doc.OK && o.OK()
		doc.Services = append(doc.Services, s)
	}
	for _, u := range c.Unreferenced {
		doc.Warnings = append(doc.Warnings, checkWarning{Kind: UnreferencedService, Service: u,
			Message: "$" + u + ": no other service imports or references it"})
	}
	for _, g := range c.Unread {
		doc.Warnings = append(doc.Warnings, checkWarning{Kind: UnreadGlobal, Global: g,
			Message: "$/" + g + ": no service references it"})
	}
	for _, w := range c.warnings() {
		if w.Kind == StrayParameter {
			doc.Warnings = append(doc.Warnings, w)
		}
	}
	return marshal(doc)
}

// Err is the verdict: nil when every service starts, else a *CheckError.
// json says the problems went to stdout as JSON.
func (c *Checked) Err(json bool) error {
	problems := slices.Concat(c.fresh()...)
	if len(problems) == 0 {
		return nil
	}
	return &CheckError{Problems: problems, Services: len(c.Starts), JSON: json}
}

// CheckError is check's verdict when the data has problems; each was
// printed on stdout. It matches what they match (resolve.ErrData: exit
// 65).
type CheckError struct {
	Problems []error
	Services int  // how many were checked
	JSON     bool // printed as JSON
}

func (e *CheckError) Error() string {
	in := "the service"
	if e.Services > 1 {
		in = fmt.Sprintf("%d services", e.Services)
	}
	where := "listed above"
	if e.JSON {
		where = "in the JSON on stdout"
	}
	return fmt.Sprintf("check: %s in %s (%s)", plural(len(e.Problems), "problem"), in, where)
}

func (e *CheckError) Hints() []string {
	return append(Fixes(e.Problems), "fix them in the store (envinit secrets set, unset, import-from), then run envinit check again")
}

func (e *CheckError) Unwrap() []error { return e.Problems }

// FingerprintsText is fingerprint's text output: "SERVICE DIGEST" lines.
func FingerprintsText(fps []impact.Fingerprint) string {
	var b strings.Builder
	for _, fp := range fps {
		fmt.Fprintf(&b, "%s %s\n", fp.Alias, fp.Digest)
	}
	return b.String()
}

// fingerprintDoc is fingerprint's JSON document, the schema in the
// README's fingerprint section. Fields may be added; none is renamed or
// removed.
type fingerprintDoc struct {
	Prefix   string               `json:"prefix"`
	Services []fingerprintService `json:"services"`
}

type fingerprintService struct {
	Service     string `json:"service"`
	Fingerprint string `json:"fingerprint"`
	Parameters  int    `json:"parameters"`
	Starts      bool   `json:"starts"`
}

// FingerprintsJSON is fingerprint's JSON output.
func FingerprintsJSON(prefix string, fps []impact.Fingerprint) ([]byte, error) {
	doc := fingerprintDoc{Prefix: prefix, Services: []fingerprintService{}}
	for _, fp := range fps {
		doc.Services = append(doc.Services, fingerprintService{fp.Alias, fp.Digest, fp.Params, fp.OK})
	}
	return marshal(doc)
}

// marshal is every JSON document the tools print: indented, "<" and "&"
// as they are, a newline at the end.
func marshal(doc any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	err := enc.Encode(doc)
	return b.Bytes(), err
}
