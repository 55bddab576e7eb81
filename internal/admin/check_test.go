package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/resolve"
)

// The JSON documents of check and fingerprint, as the README documents
// them: decoding with unknown fields disallowed fails on a field the
// README does not name, and every field it names is checked.
type checkDoc struct {
	Prefix   string
	All      bool
	OK       bool
	Services []struct {
		Service  string
		Starts   bool
		Problems []struct {
			Message string
			Hints   []string
		}
		Variables    int
		Sensitive    int
		ServicesRead int `json:"services_read"`
	}
	Warnings []struct {
		Kind, Service, Global, Parameter, Message string
	}
}

type fingerprintDoc struct {
	Prefix   string
	Services []struct {
		Service, Fingerprint string
		Parameters           int
		Starts               bool
	}
}

func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}

func TestCheckJSON(t *testing.T) {
	st := shop()
	st.params["api/__sensitive"] = "DB_PASSWORD"
	st.params["api/DB_PASSWORD"] = canary
	st.params["web/MY-KEY"] = canary
	st.params["global/OLD"] = canary
	st.params["web/x/STRAY"] = canary
	c, err := admin.CheckAll(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(canary)) {
		t.Fatalf("check's JSON holds a value:\n%s", bytes.ReplaceAll(b, []byte(canary), []byte("<CANARY>")))
	}
	var doc checkDoc
	decodeStrict(t, b, &doc)
	if doc.Prefix != "/envinit" || !doc.All || doc.OK {
		t.Errorf("prefix %q, all %v, ok %v; want /envinit, true, false", doc.Prefix, doc.All, doc.OK)
	}
	var names []string
	for _, s := range doc.Services {
		names = append(names, s.Service)
		switch s.Service {
		case "api":
			if !s.Starts || len(s.Problems) != 0 || s.Variables != 3 || s.Sensitive != 2 || s.ServicesRead != 2 {
				t.Errorf("api: %+v; want it starting, 3 variables, 2 of them files (DSN is tainted), 2 services read", s)
			}
		case "web":
			if s.Starts || len(s.Problems) != 1 || s.Variables != 0 ||
				!strings.Contains(s.Problems[0].Message, `"MY-KEY"`) || len(s.Problems[0].Hints) != 1 || !strings.Contains(s.Problems[0].Hints[0], "envinit secrets unset web MY-KEY") {
				t.Errorf("web: %+v; want it failing on MY-KEY, with the command that removes it", s)
			}
		}
	}
	if !slices.Equal(names, []string{"api", "shared", "web"}) {
		t.Errorf("services %q; want every one, sorted", names)
	}
	var warnings []string
	for _, w := range doc.Warnings {
		warnings = append(warnings, w.Kind+" "+w.Service+w.Global+w.Parameter)
		if w.Message == "" {
			t.Errorf("warning %+v has no message", w)
		}
	}
	want := []string{"unreferenced_service api", "unreferenced_service web", "unread_global OLD", "stray_parameter /envinit/services/web/x/STRAY"}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings %q; want %q", warnings, want)
	}

	// Without --all: the services asked for, no warnings, and [] rather
	// than null for every list.
	c, err = admin.Check(ctx, source{st}, "/envinit", []string{"shared"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = c.JSON()
	if want := `"warnings": []`; !bytes.Contains(b, []byte(want)) || !bytes.Contains(b, []byte(`"problems": []`)) || !bytes.Contains(b, []byte(`"all": false`)) {
		t.Errorf("check shared: %s; want empty lists as [] and all false", b)
	}
	if c.Err(true) != nil {
		t.Errorf("check shared: %v; want it to pass", c.Err(true))
	}
}

func TestFingerprintsJSON(t *testing.T) {
	st := shop()
	fps, err := admin.Fingerprints(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := admin.FingerprintsJSON("/envinit", fps)
	if err != nil {
		t.Fatal(err)
	}
	var doc fingerprintDoc
	decodeStrict(t, b, &doc)
	if doc.Prefix != "/envinit" || len(doc.Services) != 3 || doc.Services[0].Service != "api" || len(doc.Services[0].Fingerprint) != 64 ||
		doc.Services[0].Parameters != 5 || !doc.Services[0].Starts {
		t.Errorf("fingerprint JSON: %+v; want api first, a SHA-256, 5 parameters read, starting", doc)
	}
	if text := admin.FingerprintsText(fps); !strings.HasPrefix(text, "api "+doc.Services[0].Fingerprint+"\n") {
		t.Errorf("fingerprint text %q; want SERVICE DIGEST lines, the JSON's digests", text)
	}
}

// An environment with no service at all is an error for check --all and
// fingerprint --all: a wrong prefix or region looks exactly like it.
func TestNoServices(t *testing.T) {
	st := newFakeStore(map[string]string{"global/G": "g"})
	if _, err := admin.CheckAll(ctx, st); !noServices(err) {
		t.Errorf("check --all of no service: %v; want a data error naming the prefix", err)
	}
	if _, err := admin.Fingerprints(ctx, st, nil); !noServices(err) {
		t.Errorf("fingerprint --all of no service: %v; want a data error naming the prefix", err)
	}
}

func noServices(err error) bool {
	var ns *admin.NoServicesError
	return errors.Is(err, resolve.ErrData) && errors.As(err, &ns) && strings.Contains(err.Error(), "no services under /envinit/services/")
}

// source serves the fake store to resolve.Gather, as a start reads it.
type source struct{ f *fakeStore }

func (s source) Service(_ context.Context, alias string, page func(map[string]resolve.Value)) error {
	kv := map[string]resolve.Value{}
	for k, v := range s.f.params {
		if a, key, ok := strings.Cut(k, "/"); ok && a == alias && !strings.Contains(key, "/") {
			kv[key] = resolve.NewValue(v)
		}
	}
	if len(kv) > 0 {
		page(kv)
	}
	return nil
}

func (s source) Globals(_ context.Context, names []string) (map[string]resolve.Value, error) {
	out := map[string]resolve.Value{}
	for _, n := range names {
		if v, ok := s.f.params["global/"+n]; ok {
			out[n] = resolve.NewValue(v)
		}
	}
	return out, nil
}
