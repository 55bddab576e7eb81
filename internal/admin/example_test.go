package admin_test

import (
	"context"
	"fmt"

	"github.com/envinit/envinit/internal/admin"
)

var ctx = context.Background()

func value(v string) func() (string, error) { return func() (string, error) { return v, nil } }

func ExampleSet() {
	st := newFakeStore(map[string]string{"api/DB_PASSWORD": "old", "api/__sensitive": "TOKEN"})
	api := admin.Target{Alias: "api"}
	c, err := admin.Set(ctx, st, admin.SetRequest{Target: api, Key: "DB_PASSWORD", Sensitive: admin.MakeSensitive, Value: value("s3cret")})
	fmt.Println(c, err)
	// __sensitive is written before the value that becomes sensitive.
	fmt.Println(st.ops, st.params["api/__sensitive"])
	// Output:
	// set $api/DB_PASSWORD (now sensitive: the container gets DB_PASSWORD_FILE) <nil>
	// [put api/__sensitive put api/DB_PASSWORD] TOKEN,DB_PASSWORD
}

func ExampleGet() {
	st := newFakeStore(map[string]string{"api/DATABASE_URL": "postgres://#{$/DB_HOST}/app"})
	v, err := admin.Get(ctx, st, admin.Target{Alias: "api"}, "DATABASE_URL")
	fmt.Println(v.Reveal(), err)
	_, err = admin.Get(ctx, st, admin.Target{Alias: "api"}, "NOPE")
	fmt.Println(err)
	// Output:
	// postgres://#{$/DB_HOST}/app <nil>
	// $api: key "NOPE": no such key (envinit secrets list api shows the keys)
}

func ExampleList() {
	st := newFakeStore(map[string]string{
		"api/DB_PASSWORD":  "never printed",
		"api/LOG_LEVEL":    "info",
		"api/__sensitive":  "DB_PASSWORD,SHARED_TOKEN",
		"api/__import_svc": "$shared, $db",
	})
	l, err := admin.List(ctx, st, admin.Target{Alias: "api"})
	fmt.Print(l)
	fmt.Println(err)
	// Output:
	// DB_PASSWORD   sensitive
	// LOG_LEVEL     -
	// SHARED_TOKEN  sensitive, not a key of $api (an imported key, or a typo: envinit check tells)
	// imports: $shared, $db
	// <nil>
}

func ExampleUnset() {
	st := newFakeStore(map[string]string{"api/TOKEN": "t", "api/K": "k", "api/__sensitive": "TOKEN"})
	c, err := admin.Unset(ctx, st, admin.Target{Alias: "api"}, "TOKEN")
	fmt.Println(c, err)
	// The value goes first, then its entry in __sensitive.
	fmt.Println(st.ops)
	// Output:
	// unset $api/TOKEN (and from __sensitive) <nil>
	// [delete api/TOKEN delete api/__sensitive]
}

func ExampleImport() {
	st := newFakeStore(map[string]string{"api/LOG_LEVEL": "info"})
	file := "# from the old host\nLOG_LEVEL=info\nexport DB_PASSWORD='p w'\nGREETING=\"hello\\nworld\"\n"
	r, err := admin.Import(ctx, st, admin.ImportRequest{Target: admin.Target{Alias: "api"}, Name: ".env", Data: []byte(file), Sensitive: []string{"DB_PASSWORD"}})
	fmt.Print(r)
	fmt.Println(err)
	_, err = admin.Import(ctx, st, admin.ImportRequest{Target: admin.Target{Alias: "api"}, Name: ".env", Data: []byte("A=1\nLD_PRELOAD=/x.so\nnot a line\n")})
	fmt.Println(err)
	// Output:
	// set $api/DB_PASSWORD (now sensitive: the container gets DB_PASSWORD_FILE)
	// set $api/GREETING
	// imported 3 keys into $api: 2 set, 1 unchanged, 1 sensitive
	// <nil>
	// secrets import: .env: nothing was written; fix these and import again:
	//   line 2: LD_PRELOAD: LD_* variables steer the dynamic loader
	//   line 3: not a KEY=VALUE line (or part of a multi-line value: quote that)
}

func ExampleImportFrom() {
	st := newFakeStore(map[string]string{"api/K": "v", "shared/S": "s", "db/D": "d"})
	msg, err := admin.ImportFrom(ctx, st, admin.Target{Alias: "api"}, []string{"shared", "$db"})
	fmt.Println(msg, err)
	_, err = admin.ImportFrom(ctx, st, admin.Target{Alias: "api"}, []string{"ghost"})
	fmt.Println(err)
	// Output:
	// $api imports $shared, $db (later ones override earlier ones; its own keys override them all) <nil>
	// secrets import-from: nothing was written: set the services' secrets first, or check the aliases: service ghost, to be imported by $api, has no secrets
}
