package fetch

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// Retry is how the client Load builds retries a call: throttling, 5xx and
// connection errors are retried until the deadline on the call's context,
// not a number of attempts.
type Retry struct {
	// AttemptTimeout bounds one HTTP attempt, response body included, so a
	// hung connection is dropped and retried instead of eating the
	// deadline; the deadline caps it.
	AttemptTimeout time.Duration
	// Before retry n the wait is uniform in
	// [0, min(MaxDelay, BaseDelay·2^(n-1))]: full jitter, so a herd of
	// containers throttled together does not retry together.
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// DefaultRetry suits a 30 s deadline: several attempts fit even when each
// hangs, and the backoff reaches its ceiling after six retries.
var DefaultRetry = Retry{
	AttemptTimeout: 5 * time.Second,
	BaseDelay:      100 * time.Millisecond,
	MaxDelay:       5 * time.Second,
}

// Load builds an SSM source from the SDK's standard environment only
// (AWS_REGION, AWS_PROFILE, the credential chain, AWS_ENDPOINT_URL_SSM or
// AWS_ENDPOINT_URL, AWS_CA_BUNDLE, HTTPS_PROXY, ...), loading the
// configuration once: an inherited AWS_CA_BUNDLE is parsed on every load.
// Zero fields of r take DefaultRetry's.
//
// What the first request would wait for starts at once, bounded by ctx:
// the credential chain's first retrieval, and the first connections to
// the SSM endpoint (connector.go), which overlap. TLS connections to AWS
// are verified against the trust store trust.go describes.
//
// An operator who sets AWS_MAX_ATTEMPTS gets at most that many attempts;
// one who sets AWS_RETRY_MODE (or retry_mode) gets the SDK's retryer of
// that mode instead of envinit's. The attempt timeout applies either way.
func Load(ctx context.Context, prefix string, r Retry) (*SSM, error) {
	p, err := cleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	r = r.withDefaults()

	// One client for every AWS call, the credential chain's included, so
	// that STS (IRSA) verifies against the same trust store as SSM.
	conn := newConnector()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(conn.install)))
	if err != nil {
		return nil, &Error{kind: ErrConfig, Reason: "invalid AWS configuration", Err: err}
	}
	if cfg.Region == "" {
		return nil, &Error{kind: ErrConfig, Reason: "no AWS region: set AWS_REGION (or region in the shared config of AWS_PROFILE)"}
	}
	// LoadDefaultConfig returns the client it was given, or a copy holding
	// AWS_CA_BUNDLE's roots.
	hc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return nil, &Error{kind: ErrConfig, Reason: fmt.Sprintf("unexpected HTTP client %T in the AWS configuration", cfg.HTTPClient)}
	}
	var bundle *x509.CertPool
	if tc := hc.GetTransport().TLSClientConfig; tc != nil {
		bundle = tc.RootCAs
	}
	conn.trust = chooseTrust(bundle, os.LookupEnv)
	cfg.HTTPClient = hc.WithTimeout(r.AttemptTimeout)

	// envinit's stderr is envinit's: what the SDK would warn about reaches
	// the operator through the errors.
	cfg.Logger = logging.Nop{}
	if cfg.Credentials != nil {
		cfg.Credentials = markCredentialErrors{prefetch(ctx, cfg.Credentials)}
	}

	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		// Set on the SSM client only: a retryer in aws.Config would also
		// reach the IMDS and STS clients of the credential chain.
		if cfg.RetryMode == "" {
			o.Retryer = newRetryer(r)
		}
		o.APIOptions = append(o.APIOptions, addAttemptLog)
	})
	if u := endpointOf(ctx, client); u != nil && u.Scheme == "https" {
		conn.trust.warm()
		conn.openAhead(ctx, u, connsAhead, r.AttemptTimeout)
	}
	return &SSM{api: client, prefix: p, region: cfg.Region, credHint: envCredentialHint()}, nil
}

// endpointOf is where client sends its requests, resolved as the SDK
// resolves it for each one; nil if it cannot be (the request will say
// why).
func endpointOf(ctx context.Context, client *ssm.Client) *url.URL {
	o := client.Options()
	if o.EndpointResolverV2 == nil {
		return nil
	}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, ssm.EndpointParameters{
		Region:       aws.String(o.Region),
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:      aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		Endpoint:     o.BaseEndpoint,
	})
	if err != nil {
		return nil
	}
	return &ep.URI
}

// prefetched is a credential provider whose first retrieval starts when
// it is made, not inside the first request's signing, where it would come
// before that request's dial: it overlaps the connections opened ahead.
// The first Retrieve gets that retrieval's result, unless the context it
// ran under ended first (a caller of Load that moved on): it retrieves
// again then. Later ones go to the provider (the SDK's cache).
type prefetched struct {
	aws.CredentialsProvider
	ctx   context.Context // the retrieval's
	done  chan struct{}
	creds aws.Credentials
	err   error
	taken atomic.Bool
}

func prefetch(ctx context.Context, p aws.CredentialsProvider) *prefetched {
	f := &prefetched{CredentialsProvider: p, ctx: ctx, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.creds, f.err = p.Retrieve(ctx)
	}()
	return f
}

func (f *prefetched) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if f.taken.Swap(true) {
		return f.CredentialsProvider.Retrieve(ctx)
	}
	select {
	case <-f.done:
		if f.err != nil && f.ctx.Err() != nil && ctx.Err() == nil {
			return f.CredentialsProvider.Retrieve(ctx)
		}
		return f.creds, f.err
	case <-ctx.Done():
		return aws.Credentials{}, ctx.Err()
	}
}

func (r Retry) withDefaults() Retry {
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = DefaultRetry.AttemptTimeout
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = DefaultRetry.BaseDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultRetry.MaxDelay
	}
	return r
}

// newRetryer is the SDK's standard retryer with three changes: no attempt
// limit (MaxAttempts 0 means until success; the deadline ends it), no
// client-side retry quota (in a mass deploy the quota turns throttling
// into failure, the opposite of what a deadline-bound start needs), and
// full-jitter backoff. It also retries a response cut short.
func newRetryer(r Retry) aws.Retryer {
	std := retry.NewStandard(func(o *retry.StandardOptions) {
		o.RateLimiter = ratelimit.None
		o.Backoff = fullJitter{base: r.BaseDelay, ceiling: r.MaxDelay, retries: new(atomic.Int64)}
		o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(retryTruncated))
	})
	return retry.AddWithMaxAttempts(std, 0)
}

// fullJitter's retries counts the retries of every call of the client: a
// start throttled on its first page is as throttled on its second, so the
// backoff carries on where the last call left it instead of starting over
// with a few quick retries per call, which in a herd are most of the
// throttled requests.
type fullJitter struct {
	base, ceiling time.Duration
	retries       *atomic.Int64
}

func (j fullJitter) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	if j.retries != nil {
		attempt = max(attempt, int(j.retries.Add(1)))
	}
	limit := j.ceiling
	// Past 30 doublings any sane base is over the ceiling; stop before
	// the shift overflows.
	if n := attempt - 1; n < 30 {
		if d := j.base << n; d < limit {
			limit = d
		}
	}
	return rand.N(limit + 1), nil
}

// retryTruncated retries a response whose body ended early: the SDK retries
// a connection that fails before the response, not one that fails while
// its body is decoded.
func retryTruncated(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// markCredentialErrors marks failures of the credential chain so that they
// are classified as such and not retried (see credentialsError).
type markCredentialErrors struct{ aws.CredentialsProvider }

func (p markCredentialErrors) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

// addAttemptLog records each attempt, inside the retry loop, into the
// attemptLog the caller put on the context.
func addAttemptLog(stack *middleware.Stack) error {
	return stack.Finalize.Insert(attemptRecorder{}, "Retry", middleware.After)
}

type attemptRecorder struct{}

func (attemptRecorder) ID() string { return "envinit.AttemptLog" }

func (attemptRecorder) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleFinalize(ctx, in)
	if l := attemptLogFrom(ctx); l != nil {
		l.attempts++
		// A failure caused by the deadline or a cancel says nothing about
		// the service.
		if err != nil && ctx.Err() == nil {
			l.last = err
			if l.throttled != nil && throttles.IsErrorThrottle(err).Bool() {
				l.throttled.Store(true)
			}
		}
	}
	return out, md, err
}
