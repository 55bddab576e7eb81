package fetch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// fakeStoreAPI is an SSM of named parameters, each with a version, that
// answers DescribeParameters a page of pageSize at a time (every name, as
// an emulator that ignores filters would) and GetParameters by name.
type fakeStoreAPI struct {
	fakeAPI
	params   map[string]string
	pageSize int
	// describeErr and getErr, when set, answer instead.
	describeErr, getErr func() error
	// onGet runs at the start of each GetParameters call.
	onGet func(in *ssm.GetParametersInput)

	mu        sync.Mutex
	describes []*ssm.DescribeParametersInput
	gets      [][]string
}

var modified = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func version(name string) int64 { return int64(len(name)) }

func (f *fakeStoreAPI) DescribeParameters(_ context.Context, in *ssm.DescribeParametersInput, _ ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	f.mu.Lock()
	f.describes = append(f.describes, in)
	f.mu.Unlock()
	if f.describeErr != nil {
		return nil, f.describeErr()
	}
	names := slices.Sorted(maps.Keys(f.params))
	start := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		fmt.Sscan(tok, &start)
	}
	end := min(start+f.pageSize, len(names))
	out := &ssm.DescribeParametersOutput{}
	for _, n := range names[start:end] {
		out.Parameters = append(out.Parameters, types.ParameterMetadata{
			Name: aws.String(n), Type: types.ParameterTypeSecureString, KeyId: aws.String("alias/aws/ssm"),
			Version: 1, LastModifiedDate: aws.Time(modified.Add(-time.Hour)),
		})
	}
	if end < len(names) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (f *fakeStoreAPI) GetParameters(_ context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	f.mu.Lock()
	f.gets = append(f.gets, slices.Clone(in.Names))
	f.mu.Unlock()
	if f.onGet != nil {
		f.onGet(in)
	}
	if f.getErr != nil {
		return nil, f.getErr()
	}
	if !aws.ToBool(in.WithDecryption) {
		return nil, errors.New("test: GetParameters without WithDecryption")
	}
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		v, ok := f.params[n]
		if !ok {
			out.InvalidParameters = append(out.InvalidParameters, n)
			continue
		}
		out.Parameters = append(out.Parameters, types.Parameter{
			Name: aws.String(n), Value: aws.String(v), Type: types.ParameterTypeSecureString,
			Version: version(n), LastModifiedDate: aws.Time(modified),
		})
	}
	return out, nil
}

func environmentStore() map[string]string {
	return map[string]string{
		"/envinit/global/DB_HOST":              "db",
		"/envinit/global/DB_PASSWORD":          canary,
		"/envinit/services/api/URL":            "postgres://#{$/DB_HOST}",
		"/envinit/services/api/MY-KEY":         "chamber wrote this " + canary,
		"/envinit/services/api/__sensitive":    "URL",
		"/envinit/services/api/sub/DEEP":       "nested " + canary,
		"/envinit/services/web/__import_svc":   "$api",
		"/envinit/services/-bad/K":             "bad alias " + canary,
		"/envinit/services/LOOSE":              "no service " + canary,
		"/envinit/global/sub/G":                "nested global " + canary,
		"/envinit/other/X":                     "outside " + canary,
		"/envinit-other/services/api/NOT_OURS": "another prefix " + canary,
		"/elsewhere/global/NOT_OURS":           "elsewhere " + canary,
	}
}

func TestEnvironmentPlacesEveryName(t *testing.T) {
	api := &fakeStoreAPI{params: environmentStore(), pageSize: 3}
	env, err := newSSM(t, "", api).Environment(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for alias, kv := range env.Services {
		for k, p := range kv {
			got["services/"+alias+"/"+k] = p.Value.Reveal()
			if p.Version != version(p.Name) || !p.Modified.Equal(modified) {
				t.Errorf("%s: version %d modified %v; want GetParameters' %d %v", p.Name, p.Version, p.Modified, version(p.Name), modified)
			}
			if p.KeyID != "alias/aws/ssm" || p.Type != "SecureString" {
				t.Errorf("%s: key %q type %q; want alias/aws/ssm SecureString", p.Name, p.KeyID, p.Type)
			}
		}
	}
	for k, p := range env.Globals {
		got["global/"+k] = p.Value.Reveal()
	}
	want := map[string]string{
		"global/DB_HOST":            "db",
		"global/DB_PASSWORD":        canary,
		"services/api/URL":          "postgres://#{$/DB_HOST}",
		"services/api/MY-KEY":       "chamber wrote this " + canary,
		"services/api/__sensitive":  "URL",
		"services/web/__import_svc": "$api",
	}
	if !maps.Equal(got, want) {
		t.Errorf("keys read = %v; want %v", got, want)
	}
	if env.Prefix != "/envinit" {
		t.Errorf("Prefix = %q; want /envinit", env.Prefix)
	}

	var strays []string
	for _, s := range env.Strays {
		strays = append(strays, s.Name+": "+s.Why)
		if s.Value.Reveal() != "" {
			t.Errorf("stray %s: its value was read; want only its metadata", s.Name)
		}
		if s.Version != 1 || s.KeyID != "alias/aws/ssm" {
			t.Errorf("stray %s: version %d key %q; want DescribeParameters' 1 alias/aws/ssm", s.Name, s.Version, s.KeyID)
		}
	}
	wantStrays := []string{
		`/envinit/global/sub/G: nested below global/`,
		`/envinit/other/X: outside global/ and services/`,
		`/envinit/services/-bad/K: under services/, but "-bad" is not a valid service alias`,
		`/envinit/services/LOOSE: directly under services/`,
		`/envinit/services/api/sub/DEEP: nested below services/api/`,
	}
	if len(strays) != len(wantStrays) {
		t.Fatalf("strays = %q; want %q", strays, wantStrays)
	}
	for i := range strays {
		if !strings.HasPrefix(strays[i], wantStrays[i]) {
			t.Errorf("stray %d = %q; want it to start %q", i, strays[i], wantStrays[i])
		}
	}

	for _, in := range api.describes {
		f := in.ParameterFilters
		if len(f) != 1 || aws.ToString(f[0].Key) != "Name" || aws.ToString(f[0].Option) != "BeginsWith" ||
			!slices.Equal(f[0].Values, []string{"/envinit/"}) || aws.ToInt32(in.MaxResults) != 50 {
			t.Errorf("DescribeParameters filters %+v MaxResults %d; want Name BeginsWith /envinit/, 50", f, aws.ToInt32(in.MaxResults))
		}
	}
	// 13 names, 3 to a page.
	if len(api.describes) != 5 {
		t.Errorf("%d DescribeParameters calls; want 5", len(api.describes))
	}
	var read []string
	for _, names := range api.gets {
		if len(names) > 10 {
			t.Errorf("GetParameters of %d names; want at most 10", len(names))
		}
		read = append(read, names...)
	}
	slices.Sort(read)
	wantRead := []string{"/envinit/global/DB_HOST", "/envinit/global/DB_PASSWORD", "/envinit/services/api/MY-KEY",
		"/envinit/services/api/URL", "/envinit/services/api/__sensitive", "/envinit/services/web/__import_svc"}
	if !slices.Equal(read, wantRead) {
		t.Errorf("values read = %q; want %q (only what a start can read, once each)", read, wantRead)
	}
}

func TestEnvironmentRootPrefix(t *testing.T) {
	api := &fakeStoreAPI{params: map[string]string{
		"/global/G": "g", "/services/a/K": "k", "/envinit/services/a/K": "elsewhere",
	}, pageSize: 50}
	env, err := newSSM(t, "/", api).Environment(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if env.Globals["G"].Value.Reveal() != "g" || env.Services["a"]["K"].Value.Reveal() != "k" {
		t.Errorf("root prefix: globals %v services %v; want G and a/K", env.Globals, env.Services)
	}
	if len(env.Strays) != 1 || env.Strays[0].Name != "/envinit/services/a/K" {
		t.Errorf("strays = %v; want /envinit/services/a/K", env.Strays)
	}
}

func TestEnvironmentDeletedWhileRead(t *testing.T) {
	api := &fakeStoreAPI{params: map[string]string{
		"/envinit/services/gone/K": "k", "/envinit/services/api/A": "a", "/envinit/services/api/B": "b",
	}, pageSize: 50}
	api.onGet = func(*ssm.GetParametersInput) {
		api.mu.Lock()
		defer api.mu.Unlock()
		delete(api.params, "/envinit/services/gone/K")
		delete(api.params, "/envinit/services/api/B")
	}
	env, err := newSSM(t, "", api).Environment(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := env.Services["gone"]; ok {
		t.Errorf("service gone, deleted since it was listed: still there; want it left out")
	}
	if got := slices.Sorted(maps.Keys(env.Services["api"])); !slices.Equal(got, []string{"A"}) {
		t.Errorf("api keys = %v; want [A]", got)
	}
}

func TestEnvironmentFanOut(t *testing.T) {
	params := map[string]string{}
	for i := range 250 {
		params[fmt.Sprintf("/envinit/services/s%02d/K%03d", i%20, i)] = "v"
	}
	api := &fakeStoreAPI{params: params, pageSize: 50}
	var (
		mu             sync.Mutex
		inFlight, most int
		calls          int
		full           = make(chan struct{})
	)
	api.onGet = func(*ssm.GetParametersInput) {
		mu.Lock()
		inFlight++
		calls++
		most = max(most, inFlight)
		first := calls <= readFanOut
		if inFlight == readFanOut && first {
			close(full)
		}
		mu.Unlock()
		// The first calls wait for one another: made one after the
		// other, they would never all be under way.
		if first {
			select {
			case <-full:
			case <-time.After(10 * time.Second):
				t.Error("the first GetParameters calls were not under way at the same time")
			}
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	}
	env, err := newSSM(t, "", api).Environment(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if most > readFanOut {
		t.Errorf("%d GetParameters calls under way at once; want at most %d", most, readFanOut)
	}
	if calls != 25 {
		t.Errorf("%d GetParameters calls; want 25 (250 names, 10 a call)", calls)
	}
	n := 0
	for _, kv := range env.Services {
		n += len(kv)
	}
	if n != 250 || len(env.Services) != 20 {
		t.Errorf("read %d keys of %d services; want 250 of 20", n, len(env.Services))
	}
}

func TestEnvironmentProgress(t *testing.T) {
	api := &fakeStoreAPI{params: environmentStore(), pageSize: 4}
	var got []Progress
	var mu sync.Mutex
	concurrent := false
	_, err := newSSM(t, "", api).Environment(context.Background(), func(p Progress) {
		if !mu.TryLock() {
			concurrent = true
			return
		}
		defer mu.Unlock()
		got = append(got, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if concurrent {
		t.Error("progress called concurrently")
	}
	last := got[len(got)-1]
	if want := (Progress{Listed: 11, Listing: false, Read: 6, ToRead: 6}); last != want {
		t.Errorf("last progress = %+v; want %+v", last, want)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Listed < got[i-1].Listed || got[i].Read < got[i-1].Read || got[i].Read > got[i].ToRead {
			t.Errorf("progress went %+v -> %+v; want counts that only grow, Read <= ToRead", got[i-1], got[i])
		}
	}
	if !got[0].Listing {
		t.Errorf("first progress %+v; want Listing while pages remain", got[0])
	}
}

func TestEnvironmentErrors(t *testing.T) {
	apiErr := func(code, msg string) func() error {
		return func() error { return opError("X", &smithy.GenericAPIError{Code: code, Message: msg}) }
	}
	tests := []struct {
		name                string
		describeErr, getErr func() error
		is                  error
		want                []string
	}{
		{"describe denied", apiErr("AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/ops/me is not authorized to perform: ssm:DescribeParameters on resource: arn:aws:ssm:us-east-1:123456789012:*"), nil,
			ErrAccessDenied, []string{"/envinit/*", "ssm:DescribeParameters denied", `Resource "*"`}},
		{"read denied", nil, apiErr("AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/ops/me is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/envinit/global/DB_HOST"),
			ErrAccessDenied, []string{"ssm:GetParameters denied", "arn:aws:ssm:REGION:123456789012:parameter/envinit/*"}},
		{"decrypt denied", nil, apiErr("AccessDeniedException", "not authorized to perform: kms:Decrypt (Service: AWSKMS)"),
			ErrAccessDenied, []string{"kms:Decrypt"}},
		{"describe throttled", apiErr("ThrottlingException", "Rate exceeded"), nil,
			ErrThrottled, []string{"throttled"}},
		{"bad prefix", apiErr("ValidationException", "bad filter"), nil,
			ErrConfig, []string{"check the prefix"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeStoreAPI{params: environmentStore(), pageSize: 50, describeErr: tc.describeErr, getErr: tc.getErr}
			env, err := newSSM(t, "", api).Environment(context.Background(), nil)
			if env != nil || !errors.Is(err, tc.is) {
				t.Fatalf("Environment = %v, %v; want nil, %v", env, err, tc.is)
			}
			// The error line says what failed; its hints say how to fix it.
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T; want *Error", err)
			}
			text := err.Error() + "\n" + strings.Join(fe.Hints(), "\n")
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("error and hints %q; want them to contain %q", text, w)
				}
			}
			noCanary(t, err)
			for _, h := range fe.Hints() {
				noCanary(t, errors.New(h))
			}
		})
	}
}

func TestEnvironmentRepeatedToken(t *testing.T) {
	api := &fakeStoreAPI{params: environmentStore(), pageSize: 50}
	api.describeErr = nil
	s := newSSM(t, "", &loopingDescribe{fakeStoreAPI: api})
	_, err := s.Environment(context.Background(), nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "repeated a pagination token") {
		t.Errorf("Environment = %v; want ErrUnavailable for a repeated token", err)
	}
}

// loopingDescribe answers every DescribeParameters with the same token.
type loopingDescribe struct{ *fakeStoreAPI }

func (l *loopingDescribe) DescribeParameters(context.Context, *ssm.DescribeParametersInput, ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	return &ssm.DescribeParametersOutput{NextToken: aws.String("again")}, nil
}

func TestEnvironmentInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	api := &fakeStoreAPI{params: environmentStore(), pageSize: 2}
	api.onGet = func(*ssm.GetParametersInput) { cancel() }
	api.getErr = func() error { return context.Canceled }
	env, err := newSSM(t, "", api).Environment(ctx, nil)
	if env != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Environment = %v, %v; want nil, context.Canceled (never a partial environment)", env, err)
	}
}

func TestEnvironmentNeedsDescribe(t *testing.T) {
	_, err := newSSM(t, "", &fakeAPI{}).Environment(context.Background(), nil)
	if !errors.Is(err, ErrConfig) {
		t.Errorf("Environment = %v; want ErrConfig", err)
	}
}

func TestPlace(t *testing.T) {
	tests := []struct{ prefix, name, alias, key, why string }{
		{"/envinit", "/envinit/global/DB", "", "DB", ""},
		{"/envinit", "/envinit/services/api/DB", "api", "DB", ""},
		{"/envinit", "/envinit/services/api/MY-KEY", "api", "MY-KEY", ""},
		{"/envinit", "/envinit/services/api/__x", "api", "__x", ""},
		{"", "/services/a.b-c_d/K", "a.b-c_d", "K", ""},
		{"/envinit", "/envinit/services/api/a/b", "", "", "nested below services/api/"},
		{"/envinit", "/envinit/services/.x/K", "", "", "not a valid service alias"},
		{"/envinit", "/envinit/global/a/b", "", "", "nested below global/"},
		{"/envinit", "/envinit/K", "", "", "outside global/ and services/"},
		{"/envinit", "/envinit/global", "", "", "outside global/ and services/"},
		{"/envinit", "/envinit/services/api", "", "", "directly under services/"},
		{"/envinit", "/envinit//global/K", "", "", "an empty path segment"},
		{"/envinit", "/envinitx/global/K", "", "", "not under the prefix"},
	}
	for _, tc := range tests {
		alias, key, why := Place(tc.prefix, tc.name)
		if alias != tc.alias || key != tc.key || !strings.Contains(why, tc.why) || (tc.why == "") != (why == "") {
			t.Errorf("Place(%q, %q) = %q, %q, %q; want %q, %q, %q...", tc.prefix, tc.name, alias, key, why, tc.alias, tc.key, tc.why)
		}
	}
}

func TestFileEnvironment(t *testing.T) {
	f, err := OpenFile(writeStore(t, flatStore), "")
	if err != nil {
		t.Fatal(err)
	}
	env, err := f.Environment(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Services["svc"]["API_KEY"].Value.Reveal(); got != "key-"+canary {
		t.Errorf("svc/API_KEY = %q; want the file's value", got)
	}
	if len(env.Services) != 2 || len(env.Globals) != 2 {
		t.Errorf("got %d services and %d globals; want 2 and 2", len(env.Services), len(env.Globals))
	}
	if len(env.Strays) != 1 || env.Strays[0].Name != "/envinit/services/svc/nested/DEEP" {
		t.Errorf("strays = %v; want the nested one", env.Strays)
	}
}
