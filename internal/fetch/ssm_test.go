package fetch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/envinit/envinit/internal/resolve"
)

// canary seeds every value a test store holds; no error text may contain it.
const canary = "CANARY-9f86d081884c7d65"

func noCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("error text holds a secret value: %v", err)
	}
}

// fakeAPI answers with the functions a test gives it.
type fakeAPI struct {
	byPath func(*ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error)
	get    func(*ssm.GetParametersInput) (*ssm.GetParametersOutput, error)
}

func (f *fakeAPI) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput, _ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	return f.byPath(in)
}

func (f *fakeAPI) GetParameters(_ context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	return f.get(in)
}

func params(kv ...string) []types.Parameter {
	var ps []types.Parameter
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, types.Parameter{Name: aws.String(kv[i]), Value: aws.String(kv[i+1]), Type: types.ParameterTypeSecureString})
	}
	return ps
}

func reveal(m map[string]resolve.Value) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.Reveal()
	}
	return out
}

func newSSM(t *testing.T, prefix string, api API) *SSM {
	t.Helper()
	s, err := New(prefix, api)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServicePaging(t *testing.T) {
	const path = "/envinit/services/svc"
	pages := map[string]*ssm.GetParametersByPathOutput{
		"": {Parameters: params(path+"/A", "a-"+canary, path+"/B", "b"), NextToken: aws.String("t1")},
		// SSM may answer with nothing but a token.
		"t1": {NextToken: aws.String("t2")},
		"t2": {Parameters: params(
			path+"/C", "c",
			path+"/sub/D", "deeper: not a key",
			"/envinit/services/svc-other/E", "another service sharing the name's start",
			path+"/", "no key",
		)},
	}
	var tokens []string
	api := &fakeAPI{byPath: func(in *ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
		if got := aws.ToString(in.Path); got != path {
			t.Errorf("Path = %q; want %q", got, path)
		}
		if aws.ToInt32(in.MaxResults) != 10 || in.Recursive == nil || *in.Recursive || !aws.ToBool(in.WithDecryption) {
			t.Errorf("request MaxResults=%v Recursive=%v WithDecryption=%v; want 10, false, true",
				aws.ToInt32(in.MaxResults), in.Recursive, in.WithDecryption)
		}
		tok := aws.ToString(in.NextToken)
		tokens = append(tokens, tok)
		return pages[tok], nil
	}}

	var got []map[string]string
	err := newSSM(t, "", api).Service(context.Background(), "svc", func(kv map[string]resolve.Value) {
		got = append(got, reveal(kv))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "t1", "t2"}; !slices.Equal(tokens, want) {
		t.Errorf("tokens sent = %q; want %q", tokens, want)
	}
	want := []map[string]string{{"A": "a-" + canary, "B": "b"}, {"C": "c"}}
	if len(got) != len(want) || !maps.Equal(got[0], want[0]) || !maps.Equal(got[1], want[1]) {
		t.Errorf("pages = %v; want %v (the empty page skipped, deeper names dropped)", got, want)
	}
}

func TestServiceNoParameters(t *testing.T) {
	api := &fakeAPI{byPath: func(*ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
		return &ssm.GetParametersByPathOutput{}, nil
	}}
	calls := 0
	err := newSSM(t, "", api).Service(context.Background(), "svc", func(map[string]resolve.Value) { calls++ })
	if err != nil || calls != 0 {
		t.Errorf("Service = %v with %d page calls; want nil, 0", err, calls)
	}
}

func TestServiceRepeatedToken(t *testing.T) {
	next := map[string]string{"": "t1", "t1": "t2", "t2": "t1"}
	api := &fakeAPI{byPath: func(in *ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
		tok := aws.ToString(in.NextToken)
		return &ssm.GetParametersByPathOutput{
			Parameters: params("/envinit/services/svc/K"+tok, canary),
			NextToken:  aws.String(next[tok]),
		}, nil
	}}
	err := newSSM(t, "", api).Service(context.Background(), "svc", func(map[string]resolve.Value) {})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Service = %v; want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "/envinit/services/svc") {
		t.Errorf("error %q does not name the path", err)
	}
	noCanary(t, err)
}

func TestServicePageBound(t *testing.T) {
	n := 0
	api := &fakeAPI{byPath: func(*ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
		n++
		return &ssm.GetParametersByPathOutput{NextToken: aws.String(fmt.Sprint("fresh-", n))}, nil
	}}
	err := newSSM(t, "", api).Service(context.Background(), "svc", func(map[string]resolve.Value) {})
	if !errors.Is(err, ErrUnavailable) || n != maxPages {
		t.Errorf("Service = %v after %d calls; want ErrUnavailable after %d", err, n, maxPages)
	}
}

func TestServiceError(t *testing.T) {
	api := &fakeAPI{byPath: func(in *ssm.GetParametersByPathInput) (*ssm.GetParametersByPathOutput, error) {
		if in.NextToken == nil {
			return &ssm.GetParametersByPathOutput{Parameters: params("/p/services/svc/A", canary), NextToken: aws.String("t")}, nil
		}
		return nil, opError("GetParametersByPath", &types.AccessDeniedException{Message: aws.String(
			"User: arn:aws:sts::123456789012:assumed-role/app/task is not authorized to perform: ssm:GetParametersByPath on resource: arn:aws:ssm:eu-west-1:123456789012:parameter/p/services/svc")})
	}}
	err := newSSM(t, "/p", api).Service(context.Background(), "svc", func(map[string]resolve.Value) {})
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("Service = %v; want ErrAccessDenied", err)
	}
	for _, want := range []string{"/p/services/svc:", "ssm:GetParametersByPath", "arn:aws:ssm:REGION:123456789012:parameter/p/*"} {
		if !strings.Contains(text(err), want) {
			t.Errorf("error %q; want it to contain %q", err, want)
		}
	}
	var ade *types.AccessDeniedException
	if !errors.As(err, &ade) {
		t.Errorf("errors.As(%T) = false; want the SDK error kept", ade)
	}
	noCanary(t, err)
}

func opError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "SSM", OperationName: op, Err: err}
}

func TestGlobals(t *testing.T) {
	api := &fakeAPI{get: func(in *ssm.GetParametersInput) (*ssm.GetParametersOutput, error) {
		if want := []string{"/custom/global/A", "/custom/global/B", "/custom/global/C"}; !slices.Equal(in.Names, want) {
			t.Errorf("Names = %q; want %q", in.Names, want)
		}
		if !aws.ToBool(in.WithDecryption) {
			t.Error("WithDecryption not set")
		}
		return &ssm.GetParametersOutput{
			Parameters:        params("/custom/global/A", "a", "/custom/global/Z", "not asked for", "/custom/global/C", "c"),
			InvalidParameters: []string{"/custom/global/B"},
		}, nil
	}}
	got, err := newSSM(t, "/custom/", api).Globals(context.Background(), []string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"A": "a", "C": "c"}; !maps.Equal(reveal(got), want) {
		t.Errorf("Globals = %v; want %v", reveal(got), want)
	}
}

func TestGlobalsChunked(t *testing.T) {
	var names []string
	for i := range 23 {
		names = append(names, fmt.Sprintf("K%02d", i))
	}
	var (
		mu       sync.Mutex
		sizes    []int
		inFlight int
		overlap  bool
	)
	api := &fakeAPI{get: func(in *ssm.GetParametersInput) (*ssm.GetParametersOutput, error) {
		mu.Lock()
		sizes = append(sizes, len(in.Names))
		inFlight++
		mu.Unlock()
		// Wait a little for another call to start: calls made one after
		// the other never overlap.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			if inFlight > 1 {
				overlap = true
			}
			done := overlap
			mu.Unlock()
			if done {
				break
			}
			time.Sleep(time.Millisecond)
		}
		var kv []string
		for _, n := range in.Names {
			kv = append(kv, n, "v"+strings.TrimPrefix(n, "/envinit/global/"))
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return &ssm.GetParametersOutput{Parameters: params(kv...)}, nil
	}}
	got, err := newSSM(t, "", api).Globals(context.Background(), names)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sizes)
	if want := []int{3, 10, 10}; !slices.Equal(sizes, want) {
		t.Errorf("call sizes = %v; want %v", sizes, want)
	}
	if !overlap {
		t.Error("the calls did not overlap; want them made at the same time")
	}
	if len(got) != len(names) || got["K22"].Reveal() != "vK22" {
		t.Errorf("Globals returned %d names; want %d", len(got), len(names))
	}
}

func TestGlobalsChunkError(t *testing.T) {
	var names []string
	for i := range 15 {
		names = append(names, fmt.Sprintf("K%02d", i))
	}
	api := &fakeAPI{get: func(in *ssm.GetParametersInput) (*ssm.GetParametersOutput, error) {
		if len(in.Names) < 10 {
			return nil, opError("GetParameters", &smithy.GenericAPIError{Code: "InvalidKeyId",
				Message: "arn:aws:kms:us-east-1:123456789012:key/k is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException)"})
		}
		return &ssm.GetParametersOutput{Parameters: params(in.Names[0], canary)}, nil
	}}
	_, err := newSSM(t, "", api).Globals(context.Background(), names)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "kms:Decrypt") {
		t.Errorf("Globals = %v; want ErrAccessDenied naming kms:Decrypt", err)
	}
	if !strings.Contains(err.Error(), "/envinit/global/{K10,K11,K12,K13,K14}") {
		t.Errorf("error %q does not name the parameters", err)
	}
	noCanary(t, err)
}

func TestPrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/envinit"},
		{"/envinit", "/envinit"},
		{"/team/prod/", "/team/prod"},
		{"/", ""},
	} {
		s, err := New(tc.in, &fakeAPI{})
		if err != nil || s.prefix != tc.want {
			t.Errorf("New(%q).prefix = %q, %v; want %q", tc.in, s.prefix, err, tc.want)
		}
	}
	if _, err := New("envinit", &fakeAPI{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New(%q) = %v; want ErrConfig", "envinit", err)
	}
}

func TestClassify(t *testing.T) {
	kmsDenied := "User: arn:aws:sts::111122223333:assumed-role/app/x is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:111122223333:key/k (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
	tests := []struct {
		name    string
		code    string
		msg     string
		kind    error
		want    []string
		notWant []string
	}{
		{"ssm access denied", "AccessDeniedException",
			"User: arn:aws-cn:sts::111122223333:assumed-role/app/x is not authorized to perform: ssm:GetParametersByPath on resource: arn:aws-cn:ssm:cn-north-1:111122223333:parameter/envinit/services/svc because no identity-based policy allows the ssm:GetParametersByPath action",
			ErrAccessDenied, []string{"ssm:GetParametersByPath denied", "arn:aws-cn:ssm:us-east-1:111122223333:parameter/envinit/*", "ssm:GetParameters on"}, []string{"kms:Decrypt failed"}},
		{"kms decrypt denied", "AccessDeniedException", kmsDenied,
			ErrAccessDenied, []string{"kms:Decrypt failed", "key policy", "grant"}, []string{"ssm:GetParametersByPath denied"}},
		{"kms ciphertext", "AccessDeniedException",
			"The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)",
			ErrAccessDenied, []string{"kms:Decrypt failed"}, nil},
		{"kms key pending deletion", "InvalidKeyId",
			"arn:aws:kms:us-east-1:111122223333:key/k is pending deletion. (Service: AWSKMS; Status Code: 400; Error Code: KMSInvalidStateException)",
			ErrAccessDenied, []string{"kms:Decrypt failed", "pending deletion"}, nil},
		{"invalid token", "UnrecognizedClientException", "The security token included in the request is invalid.",
			ErrUnavailable, []string{"rejected the credentials", "AWS_CONTAINER_CREDENTIALS_FULL_URI"}, nil},
		{"throttled after operator's attempts", "ThrottlingException", "Rate exceeded", ErrThrottled, []string{"throttled"}, nil},
		{"validation", "ValidationException", "The parameter doesn't meet the parameter name requirements.", ErrConfig, []string{`prefix "/envinit"`}, nil},
		{"internal", "InternalServerError", "", ErrUnavailable, []string{"SSM failed"}, nil},
	}
	s := newSSM(t, "", &fakeAPI{})
	s.region = "us-east-1"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(context.Background(), opError("GetParametersByPath", &smithy.GenericAPIError{Code: tc.code, Message: tc.msg}),
				s.where("ssm:GetParametersByPath", "/envinit/services/svc"), nil)
			if !errors.Is(err, tc.kind) {
				t.Errorf("classify = %v; want %v", err, tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(text(err), w) {
					t.Errorf("error %q; want it to contain %q", err, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text(err), w) {
					t.Errorf("error %q; want it not to contain %q", err, w)
				}
			}
			for _, other := range []error{ErrUnavailable, ErrThrottled, ErrAccessDenied, ErrConfig} {
				if other != tc.kind && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
		})
	}
}

func TestClassifyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newSSM(t, "", &fakeAPI{})
	for _, err := range []error{
		opError("GetParameters", &smithy.CanceledError{Err: context.Canceled}),
		opError("GetParameters", errors.New("some transport error")),
	} {
		got := classify(ctx, err, s.where("ssm:GetParameters", "/envinit/global/{A}"), nil)
		if !errors.Is(got, context.Canceled) {
			t.Errorf("classify(%v) = %v; want context.Canceled", err, got)
		}
		for _, sentinel := range []error{ErrUnavailable, ErrThrottled, ErrAccessDenied, ErrConfig} {
			if errors.Is(got, sentinel) {
				t.Errorf("classify(%v) matches %v; want no store sentinel", err, sentinel)
			}
		}
	}
}

func TestFullJitter(t *testing.T) {
	j := fullJitter{base: 100 * time.Millisecond, ceiling: time.Second}
	for _, tc := range []struct {
		attempt int
		limit   time.Duration
	}{{1, 100 * time.Millisecond}, {3, 400 * time.Millisecond}, {5, time.Second}, {1000, time.Second}} {
		var top time.Duration
		for range 2000 {
			d, err := j.BackoffDelay(tc.attempt, nil)
			if err != nil || d < 0 || d > tc.limit {
				t.Fatalf("BackoffDelay(%d) = %v, %v; want within [0, %v]", tc.attempt, d, err, tc.limit)
			}
			top = max(top, d)
		}
		// Full jitter spreads over the whole range, not just its top.
		if top < tc.limit/2 {
			t.Errorf("BackoffDelay(%d) never above %v in 2000 draws; want up to %v", tc.attempt, top, tc.limit)
		}
	}
}

func TestCredentialHint(t *testing.T) {
	env := map[string]string{"AWS_PROFILE": "prod-" + canary, "HOME": "/root"}
	hint := strings.Join(credentialHints(func(k string) (string, bool) { v, ok := env[k]; return v, ok }), "\n")
	for _, want := range []string{"set here: AWS_PROFILE", "hop limit", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint %q; want it to contain %q", hint, want)
		}
	}
	if strings.Contains(hint, canary) {
		t.Errorf("hint %q holds a variable's value", hint)
	}
}

// A request the deadline catches in flight, with no failure of its own, is
// throttling when another request of the same run was throttled (a herd),
// and unavailability otherwise.
func TestClassifyDeadlineAfterThrottling(t *testing.T) {
	s := newSSM(t, "", &fakeAPI{})
	deadline := fmt.Errorf("operation error SSM: GetParameters, %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		throttledBefore bool
		want            error
	}{{false, ErrUnavailable}, {true, ErrThrottled}} {
		if tc.throttledBefore {
			_, log := withAttemptLog(context.Background(), &s.throttled)
			log.throttled.Store(true)
		}
		err := classify(context.Background(), deadline, s.where("ssm:GetParameters", "/envinit/global/{A}"), &attemptLog{attempts: 1})
		if !errors.Is(err, tc.want) {
			t.Errorf("throttled before: %v: got %v; want %v", tc.throttledBefore, err, tc.want)
		}
	}
}

// The backoff level carries across a client's calls: a second call's first
// retry waits as long as the first call's last one did.
func TestFullJitterCarriesAcrossCalls(t *testing.T) {
	j := fullJitter{base: 100 * time.Millisecond, ceiling: time.Second, retries: new(atomic.Int64)}
	for attempt := 1; attempt <= 4; attempt++ { // a first call retried four times
		if _, err := j.BackoffDelay(attempt, nil); err != nil {
			t.Fatal(err)
		}
	}
	var top time.Duration
	for range 2000 { // every retry of the second call, from its first
		d, _ := j.BackoffDelay(1, nil)
		top = max(top, d)
	}
	if top <= 100*time.Millisecond {
		t.Errorf("a later call's first retry waited at most %v; want the carried level, up to %v", top, time.Second)
	}
}

// text is err as main prints it: the error, then its hint lines.
func text(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	return strings.Join(append([]string{err.Error()}, e.Hints()...), "\n")
}
