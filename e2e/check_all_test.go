package e2e

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// check --all through the real binary against kumo, behind the SSM proxy:
// one read of the whole environment (DescribeParameters, then each value
// once with GetParameters, no start's GetParametersByPath per service),
// every service resolved from it, each problem printed, what no start
// reads warned of, no value anywhere, and the JSON pipelines read. check
// SERVICE still reads exactly what that service's start reads.
func TestCheckAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t, map[string]string{
		"global/DB_HOST":              newCanary("global/DB_HOST"),
		"global/OLD":                  newCanary("global/OLD"),
		"services/shared/S":           newCanary("shared/S"),
		"services/shared/__sensitive": "S",
		"services/api/__import_svc":   "$shared",
		"services/api/URL":            "postgres://#{$/DB_HOST}/" + newCanary("api/URL"),
		"services/web/W":              "#{$/NO_SUCH}" + newCanary("web/W"),
		"services/web/deep/X":         newCanary("web/deep/X"),
	})
	p := startProxy(t, f.e.URL, proxyOptions{})
	env := ssmEnv(f, p, "api") // --all ignores ENVINIT_SERVICE

	r := toolRun(t, f, env, "", "check", "--all")
	assertCode(t, r, 65)
	assertNoLeak(t, r, f.canaries()...)
	want := "ok: api: 2 variables (1 sensitive, to files), resolved from 2 services\n" +
		"ok: shared: 1 variable (1 sensitive, to files), resolved from 1 service\n" +
		"$web/W: reference #{$/NO_SUCH}: no global NO_SUCH\n" +
		"warning: 2 services no other service imports or references: api, web (each is read only by the containers that name it; one that none names is unused)\n" +
		"warning: 1 global no service references: OLD (no start reads them, unless a container's own variable references one, which the store cannot show)\n" +
		"warning: " + f.prefix + "/services/web/deep/X: no start reads it: nested below services/web/: not one of its keys (a start reads one level); envinit secrets unset --name " + f.prefix + "/services/web/deep/X removes it\n"
	if r.Stdout != want {
		t.Errorf("check --all:\n%s\nwant:\n%s", redact(r.Stdout), want)
	}
	if !strings.Contains(r.Stderr, "check: 1 problem in 3 services (listed above)") {
		t.Errorf("stderr %q; want the summary", redact(r.Stderr))
	}

	// One read: the names listed, then every value a start can read asked
	// for once, the stray's not at all.
	if n := p.Calls("GetParametersByPath"); n != 0 || p.Calls("DescribeParameters") == 0 {
		t.Errorf("GetParametersByPath %d, DescribeParameters %d; want none and some: one listing of the environment", n, p.Calls("DescribeParameters"))
	}
	var asked []string
	for _, req := range p.Requests() {
		if req.Op == "GetParameters" && req.Outcome == "upstream" {
			asked = append(asked, req.Names...)
		}
	}
	slices.Sort(asked)
	var readable []string
	for _, k := range []string{"global/DB_HOST", "global/OLD", "services/api/URL", "services/api/__import_svc", "services/shared/S", "services/shared/__sensitive", "services/web/W"} {
		readable = append(readable, f.prefix+"/"+k)
	}
	if !slices.Equal(asked, readable) {
		t.Errorf("values read: %q; want each parameter a start reads, once:\n%q", asked, readable)
	}

	// The JSON: the README's schema, nothing else, the same verdict.
	r = toolRun(t, f, env, "", "check", "--all", "--format", "json")
	assertCode(t, r, 65)
	assertNoLeak(t, r, f.canaries()...)
	var doc struct {
		Prefix   string
		All, OK  bool
		Services []struct {
			Service  string
			Starts   bool
			Problems []struct {
				Message string
				Hints   []string
			}
			Variables, Sensitive int
			ServicesRead         int `json:"services_read"`
		}
		Warnings []struct{ Kind, Service, Global, Parameter, Message string }
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(r.Stdout)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("check --all --format json: %v\n%s", err, redact(r.Stdout))
	}
	if doc.Prefix != f.prefix || !doc.All || doc.OK || len(doc.Services) != 3 || len(doc.Warnings) != 4 {
		t.Errorf("JSON: %+v; want the prefix, all, not ok, 3 services, 4 warnings", doc)
	}
	if s := doc.Services[2]; s.Service != "web" || s.Starts || len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Message, "no global NO_SUCH") {
		t.Errorf("web in the JSON: %+v; want it failing on NO_SUCH", s)
	}

	// check SERVICE reads what that start reads, and only that.
	p.Reset()
	r = toolRun(t, f, env, "", "check", "api")
	assertCode(t, r, 0)
	if p.Calls("DescribeParameters") != 0 || p.Calls("GetParametersByPath") == 0 {
		t.Errorf("check api: DescribeParameters %d, GetParametersByPath %d; want a start's reads", p.Calls("DescribeParameters"), p.Calls("GetParametersByPath"))
	}

	// Fixed, it passes, with its warnings.
	f.e.put(t, f.prefix+"/services/web/W", "#{$/DB_HOST}")
	r = toolRun(t, f, env, "", "check", "--all")
	assertCode(t, r, 0)
	if !strings.Contains(r.Stdout, "ok: web: ") || !strings.Contains(r.Stdout, "warning: 1 global no service references: OLD") {
		t.Errorf("check --all after the fix:\n%s", redact(r.Stdout))
	}
}
