package fetch

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// liveVar names the prefix TestEnvironmentLive writes under. Unset, the
// test is skipped: it needs an SSM, which unit tests do not have.
const liveVar = "ENVINIT_TEST_LIVE_PREFIX"

// TestEnvironmentLive reads a whole environment from a real SSM API
// through the SDK client Load builds, with the SDK's standard settings
// (AWS_REGION, AWS_ENDPOINT_URL_SSM, credentials). e2e's
// TestFetchEnvironmentEmulator runs it against the kumo emulator; against
// AWS itself it runs as
//
//	ENVINIT_TEST_LIVE_PREFIX=/envinit-test/$(date +%s) AWS_PROFILE=... AWS_REGION=... \
//	  go test -count=1 -run '^TestEnvironmentLive$' -v ./internal/fetch
//
// with ssm:PutParameter, ssm:DeleteParameters, ssm:DescribeParameters and
// ssm:GetParameters on that prefix. It writes its own parameters under
// the prefix (and one beside it), reads them back, and deletes them.
func TestEnvironmentLive(t *testing.T) {
	prefix := os.Getenv(liveVar)
	if prefix == "" {
		t.Skip(liveVar + " is not set: this test needs an SSM endpoint (see its comment)")
	}
	prefix = strings.TrimRight(prefix, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Load(ctx, prefix, Retry{})
	if err != nil {
		t.Fatal(err)
	}
	client := s.api.(*ssm.Client)

	seeded := map[string]string{
		"/global/DB_HOST":                "db.internal",
		"/global/__sensitive":            "DB_PASSWORD",
		"/global/DB_PASSWORD":            "pw-" + canary,
		"/services/api/URL":              "postgres://#{$/DB_HOST}/app",
		"/services/api/__sensitive":      "TOKEN",
		"/services/api/TOKEN":            "tok-" + canary,
		"/services/api/MY-KEY":           "as chamber writes it " + canary,
		"/services/api/nested/DEEP":      "nested " + canary,
		"/services/web/__import_svc":     "$api",
		"/services/-bad/K":               "an alias no start can name " + canary,
		"/elsewhere/K":                   "outside the layout " + canary,
		"-sibling/services/api/NOT_OURS": "beside the prefix " + canary,
	}
	for i := range 55 { // more than one page of DescribeParameters
		seeded[fmt.Sprintf("/services/big/K%02d", i)] = fmt.Sprintf("value %d\nwith = and #{ escaped: ##{", i)
	}
	var names []string
	for rel, value := range seeded {
		names = append(names, prefix+rel)
		put(ctx, t, client, prefix+rel, value)
	}
	t.Cleanup(func() { deleteAll(t, client, names) })
	// A second version of one key.
	put(ctx, t, client, prefix+"/services/api/URL", seeded["/services/api/URL"])

	var (
		mu   sync.Mutex
		last Progress
	)
	env, err := s.Environment(ctx, func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		last = p
	})
	if err != nil {
		t.Fatal(err)
	}

	got := map[string]string{}
	for alias, kv := range env.Services {
		for k, p := range kv {
			got["/services/"+alias+"/"+k] = p.Value.Reveal()
			if p.Version < 1 || p.Modified.IsZero() || p.Type != "SecureString" {
				t.Errorf("%s: version %d, modified %v, type %q; want SSM's", p.Name, p.Version, p.Modified, p.Type)
			}
		}
	}
	for k, p := range env.Globals {
		got["/global/"+k] = p.Value.Reveal()
	}
	want := map[string]string{}
	for rel, v := range seeded {
		if _, _, why := Place(prefix, prefix+rel); why == "" {
			want[rel] = v
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("read %d keys; want %d:\n got %q\nwant %q", len(got), len(want), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	if v := env.Services["api"]["URL"].Version; v != 2 {
		t.Errorf("api/URL version %d; want 2 (written twice)", v)
	}
	if _, ok := env.Services["api"]["MY-KEY"]; !ok {
		t.Error("api/MY-KEY, not a valid key name, was dropped; want it kept for the tools to show and remove")
	}

	var strays []string
	for _, st := range env.Strays {
		strays = append(strays, strings.TrimPrefix(st.Name, prefix))
		if st.Value.Reveal() != "" || st.Version < 1 {
			t.Errorf("stray %s: value read or no version; want its metadata only", st.Name)
		}
	}
	if want := []string{"/elsewhere/K", "/services/-bad/K", "/services/api/nested/DEEP"}; !slices.Equal(strays, want) {
		t.Errorf("strays = %q; want %q (and nothing beside the prefix)", strays, want)
	}
	if want := (Progress{Listed: len(seeded) - 1, Read: len(want), ToRead: len(want)}); last != want {
		t.Errorf("last progress %+v; want %+v", last, want)
	}
}

func put(ctx context.Context, t *testing.T, c *ssm.Client, name, value string) {
	t.Helper()
	_, err := c.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value),
		Type: types.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("PutParameter %s: %v", name, err)
	}
}

func deleteAll(t *testing.T, c *ssm.Client, names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for chunk := range slices.Chunk(names, 10) {
		if _, err := c.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: chunk}); err != nil {
			t.Errorf("DeleteParameters: %v", err)
		}
	}
}
