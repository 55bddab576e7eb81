// Package fetch reads envinit's secrets from their store: AWS SSM Parameter
// Store (SSM), or a local JSON file with the same layout (File). Both
// implement resolve.Source. It is the only package that imports the AWS SDK.
//
// Layout (the README's Store layout): globals are {prefix}/global/{KEY}, a service's secrets
// {prefix}/services/{ALIAS}/{KEY}; anything nested deeper is not a key.
//
// SSM is read only with GetParametersByPath (one level, MaxResults 10,
// WithDecryption) and GetParameters (at most 10 names a call): never one
// GetParameter per key, never DescribeParameters at a start (Environment,
// which the secrets tools use, lists names and versions with
// DescribeParameters, decrypting nothing). Failures come back as
// *Error, matching one of ErrUnavailable, ErrThrottled, ErrAccessDenied or
// ErrConfig (or context.Canceled when interrupted); none holds a value.
package fetch

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"golang.org/x/sync/errgroup"

	"github.com/envinit/envinit/internal/resolve"
)

// DefaultPrefix is the prefix when none is given.
const DefaultPrefix = "/envinit"

// maxResults is the largest page GetParametersByPath allows.
const maxResults = 10

// maxPages bounds one service's pagination: 10,000 parameters under one
// service path is far past anything an environment can hold, so more pages
// mean an endpoint that keeps inventing tokens. The deadline bounds the
// time; this bounds the work.
const maxPages = 1000

// API is the part of *ssm.Client that fetch calls.
type API interface {
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

var (
	_ API            = (*ssm.Client)(nil)
	_ resolve.Source = (*SSM)(nil)
)

// SSM reads secrets from SSM Parameter Store. It is safe for concurrent use.
type SSM struct {
	api      API
	prefix   string
	region   string // for the IAM policy an access-denied error suggests
	credHint []string
	// throttled records that SSM throttled any request of this source:
	// a request the deadline then catches in flight, with no failure of
	// its own, was cut short by a herd, not an outage.
	throttled atomic.Bool
}

// New returns an SSM source reading under prefix through api: a fake in
// tests, or a client built elsewhere (Load builds envinit's own). An empty
// prefix is DefaultPrefix; a trailing slash is dropped.
func New(prefix string, api API) (*SSM, error) {
	p, err := cleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &SSM{api: api, prefix: p, credHint: envCredentialHint()}, nil
}

func cleanPrefix(prefix string) (string, error) {
	if prefix == "" {
		return DefaultPrefix, nil
	}
	if !strings.HasPrefix(prefix, "/") {
		return "", &Error{kind: ErrConfig, Reason: fmt.Sprintf("prefix %q must start with /", prefix)}
	}
	// "/" is the root: its paths are /global/... and /services/....
	return strings.TrimRight(prefix, "/"), nil
}

// Service implements resolve.Source: GetParametersByPath on
// {prefix}/services/{alias}, every page, keys being the last path segment.
//
// The path has no trailing slash: that is the documented form, and the
// resource IAM authorizes GetParametersByPath against.
func (s *SSM) Service(ctx context.Context, alias string, page func(map[string]resolve.Value)) error {
	return s.readPath(ctx, s.prefix+"/services/"+alias, page)
}

// readPath reads every page of the parameters directly under path.
func (s *SSM) readPath(ctx context.Context, path string, page func(map[string]resolve.Value)) error {
	w := s.where("ssm:GetParametersByPath", path)
	in := &ssm.GetParametersByPathInput{
		Path:           aws.String(path),
		Recursive:      aws.Bool(false),
		MaxResults:     aws.Int32(maxResults),
		WithDecryption: aws.Bool(true),
	}
	seen := make(map[string]bool)
	for range maxPages {
		callCtx, log := withAttemptLog(ctx, &s.throttled)
		out, err := s.api.GetParametersByPath(callCtx, in)
		if err != nil {
			return classify(ctx, err, w, log)
		}
		if kv := oneLevel(path, out.Parameters); len(kv) > 0 {
			page(kv)
		}
		// SSM may answer a page with no parameters and a token: carry on.
		next := aws.ToString(out.NextToken)
		if next == "" {
			return nil
		}
		if seen[next] {
			return &Error{Path: path, kind: ErrUnavailable, Reason: "SSM repeated a pagination token: stopped rather than loop"}
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
	return &Error{Path: path, kind: ErrUnavailable, Reason: fmt.Sprintf("SSM returned more than %d pages: stopped rather than loop", maxPages)}
}

// oneLevel keys the parameters directly under path by their last segment.
// SSM does not return deeper ones with Recursive=false; a store that did
// must not be able to turn /svc/a/B into key B.
func oneLevel(path string, params []types.Parameter) map[string]resolve.Value {
	kv := make(map[string]resolve.Value, len(params))
	for _, p := range params {
		key, ok := strings.CutPrefix(aws.ToString(p.Name), path+"/")
		if !ok || key == "" || strings.Contains(key, "/") {
			continue
		}
		kv[key] = resolve.NewValue(aws.ToString(p.Value))
	}
	return kv
}

// Globals implements resolve.Source: GetParameters on {prefix}/global/{name}.
// Gather asks for at most resolve.MaxGlobalsPerCall names; more are split
// into calls of that size, made at the same time.
func (s *SSM) Globals(ctx context.Context, names []string) (map[string]resolve.Value, error) {
	if len(names) <= resolve.MaxGlobalsPerCall {
		got := make(map[string]resolve.Value, len(names))
		return got, s.globals(ctx, names, got)
	}

	// The first failure is the cause; the group cancels the others.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxGlobalsCalls)
	var mu sync.Mutex
	got := make(map[string]resolve.Value, len(names))
	for chunk := range slices.Chunk(names, resolve.MaxGlobalsPerCall) {
		g.Go(func() error {
			part := make(map[string]resolve.Value, len(chunk))
			if err := s.globals(ctx, chunk, part); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			maps.Copy(got, part)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return got, nil
}

// maxGlobalsCalls bounds the GetParameters calls one Globals call makes at
// once, as resolve bounds a start's.
const maxGlobalsCalls = 8

// globals reads up to ten names into got. Names SSM lists as
// InvalidParameters do not exist and stay absent; a name that was not asked
// for is ignored.
func (s *SSM) globals(ctx context.Context, names []string, got map[string]resolve.Value) error {
	dir := s.prefix + "/global/"
	asked := make(map[string]string, len(names))
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = dir + n
		asked[full[i]] = n
	}
	callCtx, log := withAttemptLog(ctx, &s.throttled)
	out, err := s.api.GetParameters(callCtx, &ssm.GetParametersInput{
		Names:          full,
		WithDecryption: aws.Bool(true),
	})
	if err != nil {
		path := dir + "{" + strings.Join(names, ",") + "}"
		return classify(ctx, err, s.where("ssm:GetParameters", path), log)
	}
	for _, p := range out.Parameters {
		if n, ok := asked[aws.ToString(p.Name)]; ok {
			got[n] = resolve.NewValue(aws.ToString(p.Value))
		}
	}
	return nil
}

func (s *SSM) where(action, path string) where {
	return where{action: action, path: path, prefix: s.prefix, region: s.region, credHint: s.credHint, throttled: s.throttled.Load()}
}
