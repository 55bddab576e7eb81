package impact

import (
	"fmt"
	"strings"
	"testing"
)

func TestView(t *testing.T) {
	kv := shop()
	kv["edge/__import_svc"] = "$api"
	kv["edge/__sensitive"] = "TOKEN"
	kv["edge/OWN"] = "#{$shared/DB_PASSWORD}"
	e := env(kv)
	keys, o := e.View("edge")
	if !o.OK() {
		t.Fatalf("start of edge: %v", o.Problems)
	}
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%s %s %s %q v%d", k.Key, k.Owner, k.Exposure.Variable(k.Key), k.Why, k.Param.Version))
	}
	want := []string{
		`DATABASE_URL api DATABASE_URL "" v1`,
		`DB_PASSWORD shared DB_PASSWORD_FILE "listed by $shared" v1`,
		`OWN edge OWN_FILE "interpolates a sensitive value" v1`,
		`REGION shared REGION "" v1`,
		`TOKEN api TOKEN_FILE "listed in __sensitive" v1`,
		`__import_svc edge  "" v1`,
		`__sensitive edge  "" v1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("View(edge):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestViewOfABrokenService(t *testing.T) {
	kv := shop()
	kv["api/MY-KEY"] = "x " + canary
	keys, o := env(kv).View("api")
	if o.OK() {
		t.Fatal("api starts with MY-KEY; want it to fail")
	}
	found := false
	for _, k := range keys {
		if k.Exposure != NotExported {
			t.Errorf("%s exported %v by a start that fails; want NotExported", k.Key, k.Exposure)
		}
		found = found || k.Key == "MY-KEY"
	}
	if !found {
		t.Error("MY-KEY not listed; want every stored key, valid or not")
	}
	if !strings.Contains(fmt.Sprint(o.Problems), `"MY-KEY"`) {
		t.Errorf("problems %v; want MY-KEY's", o.Problems)
	}
	noCanary(t, o.Problems...)
}

func TestViewListedOnTheImportPath(t *testing.T) {
	kv := shop()
	kv["api/__sensitive"] = "REGION" // api marks the key it imports from shared
	kv["edge/__import_svc"] = "$api"
	keys, o := env(kv).View("edge")
	if !o.OK() {
		t.Fatalf("start of edge: %v", o.Problems)
	}
	for _, k := range keys {
		if k.Key == "REGION" && (k.Owner != "shared" || k.Exposure != AsFile || k.Why != "listed by $api") {
			t.Errorf("REGION: %+v; want stored by shared, a file, listed by $api", k)
		}
	}
}

func TestReads(t *testing.T) {
	e := env(shop())
	for _, tt := range []struct{ alias, services, globals string }{
		// A start that reads a global reads the globals' __sensitive too.
		{"api", "[api shared]", "[DB_HOST DB_USER __sensitive]"},
		{"web", "[api shared web]", "[DB_HOST DB_USER __sensitive]"},
		{"worker", "[shared worker]", "[DB_HOST __sensitive]"},
		{"billing", "[billing]", "[]"},
	} {
		s, g := e.Reads(tt.alias)
		if fmt.Sprint(s) != tt.services || fmt.Sprint(g) != tt.globals {
			t.Errorf("Reads(%s) = %v, %v; want %s, %s", tt.alias, s, g, tt.services, tt.globals)
		}
	}
}
