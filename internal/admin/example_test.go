package admin_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/envinit/envinit/internal/admin"
	"github.com/envinit/envinit/internal/impact"
)

var ctx = context.Background()

func value(v string) func() (string, error) { return func() (string, error) { return v, nil } }

// printErr prints an error as main does: the error, then its hints.
func printErr(err error) {
	fmt.Println(err)
	var h interface{ Hints() []string }
	if errors.As(err, &h) {
		for _, hint := range h.Hints() {
			fmt.Println("hint:", hint)
		}
	}
}

// shop is an environment of three services and the globals.
func shop() *fakeStore {
	return newFakeStore(map[string]string{
		"global/DB_HOST":   "db.internal",
		"api/DB_PASSWORD":  "never printed",
		"api/DSN":          "postgres://app:#{$api/DB_PASSWORD}@#{$/DB_HOST}/app",
		"api/__import_svc": "$shared",
		"shared/LOG_LEVEL": "info",
		"web/DB":           "#{$/DB_HOST}",
	})
}

func ExampleSet() {
	st := shop()
	api := admin.Target{Alias: "api"}
	r, err := admin.Set(ctx, st, admin.SetRequest{Target: api, Key: "DB_PASSWORD", Sensitive: admin.MakeSensitive, Value: value("s3cret")})
	fmt.Print(r)
	fmt.Println(err)
	// __sensitive is written before the value that becomes sensitive.
	fmt.Println(st.ops, st.params["api/__sensitive"])
	// Output:
	// set $api/DB_PASSWORD (now sensitive: the container gets DB_PASSWORD_FILE)
	// $api: DSN becomes sensitive: DSN -> DSN_FILE
	// <nil>
	// [put api/__sensitive put api/DB_PASSWORD] DB_PASSWORD
}

// A value whose "#{" is not a reference would fail the start: it is
// refused, and --literal stores it as given.
func ExampleSet_literal() {
	st := shop()
	api := admin.Target{Alias: "api"}
	_, err := admin.Set(ctx, st, admin.SetRequest{Target: api, Key: "TOKEN", Value: value("pw#{x")})
	printErr(err)
	fmt.Println(st.ops)
	r, err := admin.Set(ctx, st, admin.SetRequest{Target: api, Key: "TOKEN", Literal: true, Value: value("pw#{x")})
	fmt.Print(r)
	fmt.Println(err, st.params["api/TOKEN"])
	// Output:
	// secrets set: refused, nothing was written: it would make the next start of 1 service fail (api)
	//   start of api: $api/TOKEN: malformed reference at byte 2: unterminated "#{"
	// hint: a value holds "#{" that is not a reference (#{$/KEY} or #{$ALIAS/KEY}): --literal stores it exactly as given ("#{" written as "##{")
	// hint: fix what it names first (envinit check SERVICE shows a service's problems), or add --force to write it anyway
	// []
	// set $api/TOKEN
	// <nil> pw##{x
}

// Removing a global that services reference is refused, naming each;
// --force removes it and says what it broke.
func ExampleUnset() {
	st := shop()
	global := admin.Target{Global: true}
	_, err := admin.Unset(ctx, st, global, "DB_HOST", admin.Options{})
	printErr(err)
	fmt.Println(st.ops)
	r, err := admin.Unset(ctx, st, global, "DB_HOST", admin.Options{Force: true})
	fmt.Print(r)
	fmt.Println(err, st.ops)
	for _, l := range r.Broke() {
		fmt.Println("broke:", l)
	}
	// Output:
	// secrets unset: refused, nothing was written: it would make the next start of 2 services fail (api, web)
	//   start of api: $api/DSN: reference #{$/DB_HOST}: no global DB_HOST
	//   start of web: $web/DB: reference #{$/DB_HOST}: no global DB_HOST
	// hint: fix what it names first (envinit check SERVICE shows a service's problems), or add --force to write it anyway
	// []
	// unset $/DB_HOST
	// <nil> [delete global/DB_HOST]
	// broke: start of api: $api/DSN: reference #{$/DB_HOST}: no global DB_HOST
	// broke: start of web: $web/DB: reference #{$/DB_HOST}: no global DB_HOST
}

// A key another tool wrote under a name no start accepts can be removed:
// that fixes the start.
func ExampleUnset_invalidName() {
	st := shop()
	st.params["web/MY-KEY"] = "written by another tool"
	r, err := admin.Unset(ctx, st, admin.Target{Alias: "web"}, "MY-KEY", admin.Options{})
	fmt.Print(r)
	fmt.Println(err)
	// Output:
	// unset $web/MY-KEY
	// $web: fixes $web: key "MY-KEY": not a valid name ([A-Za-z_][A-Za-z0-9_]*)
	// <nil>
}

func ExampleGet() {
	st := shop()
	v, err := admin.Get(ctx, st, admin.Target{Alias: "api"}, "DSN")
	fmt.Println(v.Reveal(), err)
	_, err = admin.Get(ctx, st, admin.Target{Alias: "api"}, "NOPE")
	fmt.Println(err)
	// Output:
	// postgres://app:#{$api/DB_PASSWORD}@#{$/DB_HOST}/app <nil>
	// $api: key "NOPE": no such key (envinit secrets list api shows the keys)
}

func ExampleList() {
	st := shop()
	admin.Set(ctx, st, admin.SetRequest{Target: admin.Target{Alias: "api"}, Key: "DB_PASSWORD", Sensitive: admin.MakeSensitive, Value: value("never printed")})
	l, err := admin.List(ctx, st, admin.Target{Alias: "api"})
	fmt.Print(l)
	fmt.Println(err)
	// Output:
	// KEY           APP GETS          FROM     VERSION  MODIFIED              NOTE
	// DB_PASSWORD   DB_PASSWORD_FILE  own      1        2026-01-02T03:04:05Z  sensitive: listed in __sensitive
	// DSN           DSN_FILE          own      1        2026-01-02T03:04:05Z  sensitive: interpolates a sensitive value
	// LOG_LEVEL     LOG_LEVEL         $shared  1        2026-01-02T03:04:05Z
	// __import_svc  -                 own      1        2026-01-02T03:04:05Z  imports $shared
	// __sensitive   -                 own      1        2026-01-02T03:04:06Z  lists DB_PASSWORD
	// <nil>
}

func ExampleListAll() {
	st := shop()
	st.params["web/MY-KEY"] = "written by another tool"
	st.params["api/old/TOKEN"] = "nested"
	ov, err := admin.ListAll(ctx, st)
	fmt.Print(ov)
	fmt.Println(err)
	// Output:
	// SERVICE  KEYS  APP GETS        IMPORTS  START
	// api      2     3 (0 as files)  $shared  ok
	// shared   1     1 (0 as files)  -        ok
	// web      2     -               -        fails: 1 problem (envinit check web)
	// globals: 1 (0 sensitive)
	// 1 parameter under /envinit/ that no start reads (envinit secrets unset --name NAME removes one):
	//   /envinit/services/api/old/TOKEN  nested below services/api/: not one of its keys (a start reads one level)
	// <nil>
}

func ExampleFind() {
	f, err := admin.Find(ctx, shop(), "DB_HOST")
	fmt.Print(f)
	fmt.Println(err)
	// Output:
	// DEFINED    VERSION  MODIFIED              NOTE
	// $/DB_HOST  1        2026-01-02T03:04:05Z
	//
	// REFERENCED BY
	// $api/DSN  #{$/DB_HOST}
	// $web/DB   #{$/DB_HOST}
	// <nil>
}

// An export is the service as stored; importing it elsewhere makes an
// identical service.
func ExampleExport() {
	st := shop()
	st.params["api/__sensitive"] = "DB_PASSWORD"
	x, err := admin.Export(ctx, st, admin.Target{Alias: "api"})
	fmt.Print(x.Dotenv())
	fmt.Println(err)
	r, err := admin.Import(ctx, st, admin.ImportRequest{Target: admin.Target{Alias: "api2"}, Name: "api.env", Data: []byte(x.Dotenv())})
	fmt.Print(r)
	fmt.Println(err)
	// Output:
	// # envinit secrets export: $api under /envinit, as stored: references unresolved, special keys included.
	// # It holds the values, sensitive ones too. envinit secrets import reads it back.
	// __import_svc='$shared'
	// __sensitive=DB_PASSWORD
	// DB_PASSWORD='never printed'
	// DSN='postgres://app:#{$api/DB_PASSWORD}@#{$/DB_HOST}/app'
	// <nil>
	// set $api2/__import_svc
	// set $api2/__sensitive
	// set $api2/DB_PASSWORD (now sensitive: the container gets DB_PASSWORD_FILE)
	// set $api2/DSN
	// imported 4 keys into $api2: 4 set, 0 unchanged, 1 sensitive
	// <nil>
}

// What render prints is not a store: import refuses its markers.
func ExampleImport_renderOutput() {
	rendered := "DSN=<sensitive>\nDSN_FILE=/run/secrets/DSN\nLOG_LEVEL=info\n"
	_, err := admin.Import(ctx, shop(), admin.ImportRequest{Target: admin.Target{Alias: "copy"}, Name: "-", Data: []byte(rendered)})
	printErr(err)
	// Output:
	// secrets import: -: nothing was written; fix these and import again:
	//   line 1: DSN: the placeholder envinit render prints for a sensitive value, not a value
	//   line 2: DSN_FILE: the path of a sensitive value's file, as envinit render prints it, not a stored value
	// hint: render prints a service resolved and flattened, its sensitive values as files: envinit secrets export (or copy) gives what is stored
	// hint: --allow-markers imports such lines as they are
}

func ExampleCopy() {
	st := shop()
	r, err := admin.Copy(ctx, st, admin.CopyRequest{From: "api", To: "api-v2"})
	fmt.Print(r)
	fmt.Println(err)
	_, err = admin.Copy(ctx, st, admin.CopyRequest{From: "web", To: "api-v2"})
	printErr(err)
	// Output:
	// copied $api to $api-v2: 3 parameters, 3 written, 0 removed
	// <nil>
	// secrets copy: refused, nothing was written: $api-v2 already has 3 parameters
	// hint: --replace makes $api-v2 an exact copy of $web: its keys $web lacks are removed
}

func ExampleImportFrom() {
	st := shop()
	r, err := admin.ImportFrom(ctx, st, admin.Target{Alias: "web"}, []string{"shared", "$api"}, admin.Options{})
	fmt.Print(r)
	fmt.Println(err)
	_, err = admin.ImportFrom(ctx, st, admin.Target{Alias: "shared"}, []string{"web"}, admin.Options{})
	printErr(err)
	// Output:
	// $web imports $shared, $api (later ones override earlier ones; its own keys override them all)
	// <nil>
	// secrets import-from: refused, nothing was written: it would make the next start of 3 services fail (api, shared, web)
	//   start of api: import cycle: $shared -> $web -> $shared
	//   start of api: import cycle: $api -> $shared -> $web -> $api
	//   start of shared: import cycle: $shared -> $web -> $shared
	//   start of shared: import cycle: $shared -> $web -> $api -> $shared
	//   start of web: import cycle: $web -> $shared -> $web
	// hint: fix what it names first (envinit check SERVICE shows a service's problems), or add --force to write it anyway
}

// A fingerprint changes with what a service's start reads, and only that.
func ExampleFingerprints() {
	st := shop()
	before, _ := admin.Fingerprints(ctx, st, nil)
	admin.Set(ctx, st, admin.SetRequest{Target: admin.Target{Alias: "shared"}, Key: "LOG_LEVEL", Value: value("debug")})
	after, _ := admin.Fingerprints(ctx, st, nil)
	for i := range before {
		fmt.Println(before[i].Alias, before[i].Digest == after[i].Digest)
	}
	_, err := admin.Fingerprints(ctx, st, []string{"nope"})
	fmt.Println(err)
	// Output:
	// api false
	// shared false
	// web true
	// service nope has no secrets (a wrong service alias, prefix or region looks exactly like this)
}

// check's hints: the command that fixes each problem.
func ExampleFixes() {
	st := shop()
	st.params["web/MY-KEY"] = "written by another tool"
	st.params["web/__sensitive"] = "TYPO"
	st.params["web/URL"] = "#{$/NO_SUCH}"
	env, _ := st.Environment(ctx, nil)
	o := impact.FromStore(env).Start("web")
	for _, h := range admin.Fixes(o.Problems) {
		fmt.Println(h)
	}
	r, err := admin.Unset(ctx, st, admin.Target{Alias: "web"}, "TYPO", admin.Options{})
	fmt.Print(r)
	fmt.Println(err, st.ops)
	// Output:
	// $web/MY-KEY: envinit secrets unset web MY-KEY removes it (envinit secrets get web MY-KEY shows it first)
	// $web/__sensitive lists TYPO: envinit secrets unset web TYPO takes it off
	// $/NO_SUCH: envinit secrets find NO_SUCH shows where NO_SUCH is defined and what references it
	// unset $web/TYPO (from __sensitive: there is no such key)
	// $web: fixes $web/__sensitive: key "TYPO": listed as sensitive but not a key of $web
	// <nil> [delete web/__sensitive]
}

// check --all: every service from one read, each problem once, and what no
// start reads as warnings, which do not fail the check.
func ExampleCheckAll() {
	st := shop()
	st.params["global/OLD_HOST"] = "old.internal"
	st.params["web/nested/TOKEN"] = "no start reads this"
	st.params["worker/DB"] = "#{$/NO_SUCH}"
	st.params["batch/DB"] = "#{$/NO_SUCH}"
	c, err := admin.CheckAll(ctx, st)
	fmt.Println(err)
	fmt.Print(c.Text())
	printErr(c.Err(false))
	// Output:
	// <nil>
	// ok: api: 3 variables (0 sensitive, to files), resolved from 2 services
	// $batch/DB: reference #{$/NO_SUCH}: no global NO_SUCH
	// ok: shared: 1 variable (0 sensitive, to files), resolved from 1 service
	// ok: web: 1 variable (0 sensitive, to files), resolved from 1 service
	// $worker/DB: reference #{$/NO_SUCH}: no global NO_SUCH
	// warning: 4 services no other service imports or references: api, batch, web, worker (each is read only by the containers that name it; one that none names is unused)
	// warning: 1 global no service references: OLD_HOST (no start reads them, unless a container's own variable references one, which the store cannot show)
	// warning: /envinit/services/web/nested/TOKEN: no start reads it: nested below services/web/: not one of its keys (a start reads one level); envinit secrets unset --name /envinit/services/web/nested/TOKEN removes it
	// check: 2 problems in 5 services (listed above)
	// hint: $/NO_SUCH: envinit secrets find NO_SUCH shows where NO_SUCH is defined and what references it
	// hint: fix them in the store (envinit secrets set, unset, import-from), then run envinit check again
}
