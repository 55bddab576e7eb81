package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Sentinels for main to map to exit codes (the README's Exit codes) with errors.Is. Every
// error this package returns matches exactly one of them, or
// resolve.ErrData for a malformed file store, or context.Canceled when the
// run was interrupted.
var (
	// ErrUnavailable: the store could not be read — network, DNS, 5xx after
	// retries, no or invalid credentials, the deadline, a store file that
	// cannot be read. Exit 69.
	ErrUnavailable = errors.New("store unavailable")
	// ErrThrottled: SSM was still throttling when the deadline ran out. A
	// temporary failure: restarting later succeeds. Exit 75.
	ErrThrottled = errors.New("store throttled")
	// ErrAccessDenied: AWS refused ssm:GetParameters* or kms:Decrypt. Exit 77.
	ErrAccessDenied = errors.New("access denied")
	// ErrConfig: no region, an AWS configuration the SDK rejects, a prefix
	// SSM rejects. Exit 78.
	ErrConfig = errors.New("bad configuration")
)

// Error is a store failure: what was being read, what it means for the
// operator, and the underlying error, SDK errors included, so errors.As
// still reaches *smithy.OperationError (the operation) and
// *awshttp.ResponseError (the request id). It never holds a value: SDK
// messages from SSM carry none, and nothing here adds one.
type Error struct {
	// Path is what was being read: "/envinit/services/svc-abc",
	// "/envinit/global/{DB_HOST,DB_USER}", a store file; empty for
	// configuration errors.
	Path string
	// Reason says what went wrong.
	Reason string
	// Fix says how to fix it, one line each: main prints them after the
	// error, on hint: lines.
	Fix []string
	// Err is the final error; for a retried operation it may be only the
	// deadline, so last keeps the last attempt's own failure.
	Err  error
	last error
	kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.last != nil {
		fmt.Fprintf(&b, "; last attempt: %v", e.last)
	}
	return b.String()
}

// Hints returns the lines that say how to fix the error.
func (e *Error) Hints() []string { return e.Fix }

// Unwrap returns the last attempt's failure, if any, then the final error:
// after a deadline only the former holds the service's response, so
// errors.As finds its *awshttp.ResponseError first.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.last != nil {
		errs = append(errs, e.last)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Is matches the error's sentinel. An interrupted run has none, so that it
// is reported as the signal, not as a store failure.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// attemptLog is what one operation's attempts left behind: the retryer
// replaces a throttling error with the deadline when the deadline cuts a
// backoff short, so the classification has to look at the attempts.
type attemptLog struct {
	attempts  int
	last      error        // the last attempt failure not caused by ctx
	throttled *atomic.Bool // set when any attempt is throttled: the source's, shared by its calls
}

type attemptLogKey struct{}

func withAttemptLog(ctx context.Context, throttled *atomic.Bool) (context.Context, *attemptLog) {
	l := &attemptLog{throttled: throttled}
	return context.WithValue(ctx, attemptLogKey{}, l), l
}

func attemptLogFrom(ctx context.Context) *attemptLog {
	l, _ := ctx.Value(attemptLogKey{}).(*attemptLog)
	return l
}

// where describes the failing request for an operator: the action, the path
// it names, and what is needed to fix access.
type where struct {
	action   string // "ssm:GetParametersByPath"
	path     string
	prefix   string
	region   string
	credHint []string
	// throttled: SSM throttled some request of this run before this one
	// failed.
	throttled bool
}

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// Error codes of an SDK call that rejected the credentials themselves, as
// opposed to their permissions.
var badCredentialCodes = map[string]bool{
	"UnrecognizedClientException": true,
	"InvalidClientTokenId":        true,
	"InvalidSignatureException":   true,
	"SignatureDoesNotMatch":       true,
	"IncompleteSignature":         true,
	"ExpiredTokenException":       true,
	"ExpiredToken":                true,
	"MissingAuthenticationToken":  true,
}

// classify turns the error of a call made with ctx into an *Error. log may
// be nil (a fake API).
func classify(ctx context.Context, err error, w where, log *attemptLog) error {
	e := &Error{Path: w.path, Err: err}
	var last error
	attempts := 0
	if log != nil {
		last, attempts = log.last, log.attempts
	}

	var apiErr smithy.APIError
	var credErr *credentialsError
	var certErr *certError
	switch {
	case errors.Is(err, context.Canceled):
		e.Reason = "interrupted"
		return e
	case errors.Is(ctx.Err(), context.Canceled):
		// Keep context.Canceled in the chain even if the SDK lost it.
		e.Reason, e.Err = "interrupted", fmt.Errorf("%w: %w", ctx.Err(), err)
		return e
	case errors.As(err, &certErr):
		// SSM's, or that of STS or SSO for the credentials.
		e.kind, e.Fix = ErrUnavailable, certErr.hints()
		e.Reason = "TLS to " + certErr.host + " failed, not retried: waiting cannot fix a certificate"
		return e
	case errors.As(err, &credErr):
		e.kind, e.Reason, e.Fix = ErrUnavailable, "no usable AWS credentials", w.credHint
		return e
	case errors.As(err, &apiErr):
		return classifyAPI(e, apiErr, w, attempts)
	}

	// The deadline, or a retryable failure the operator capped with
	// AWS_MAX_ATTEMPTS: what the service last said decides.
	if last != nil && last != err && !errors.Is(err, last) {
		e.last = last
	}
	switch {
	case last != nil && throttles.IsErrorThrottle(last).Bool():
		e.kind, e.Fix = ErrThrottled, throttledHints
		e.Reason = fmt.Sprintf("still throttled by SSM at the deadline, after %s", plural(attempts, "attempt"))
	case errors.Is(err, context.DeadlineExceeded) && last == nil && w.throttled:
		// The deadline caught this request in flight, or before it went
		// out, while the run was being throttled: a herd, not an outage.
		e.kind, e.Fix = ErrThrottled, throttledHints
		e.Reason = fmt.Sprintf("still throttled by SSM at the deadline, which cut this request short (%s)", plural(attempts, "attempt"))
	case errors.Is(err, context.DeadlineExceeded):
		e.kind = ErrUnavailable
		e.Fix = []string{"ENVINIT_TIMEOUT (--timeout) bounds the reads from the store: raise it if the store is slow, not down"}
		switch {
		case last == nil && attempts == 0:
			e.Reason = "the deadline ran out before the first request to SSM went out"
			e.Fix = []string{"is the machine overloaded, or ENVINIT_TIMEOUT (--timeout) too short?"}
		case last == nil:
			e.Reason = fmt.Sprintf("no answer from SSM before the deadline (%s)", plural(attempts, "attempt"))
		default:
			e.Reason = fmt.Sprintf("SSM still failing at the deadline, after %s", plural(attempts, "attempt"))
		}
	default:
		e.kind = ErrUnavailable
		e.Reason = fmt.Sprintf("cannot reach SSM (%s)", plural(max(attempts, 1), "attempt"))
	}
	return e
}

// throttledHints say what to do about a store still throttled at the
// deadline.
var throttledHints = []string{"a temporary failure: restart later, stagger the deploy, or raise the SSM throughput"}

func classifyAPI(e *Error, apiErr smithy.APIError, w where, attempts int) error {
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	switch {
	case isKMS(code, msg):
		e.kind = ErrAccessDenied
		e.Reason = "kms:Decrypt failed for these SecureString parameters"
		e.Fix = []string{
			"the role envinit runs as needs kms:Decrypt on their KMS key: allowed by the key policy, by an IAM policy the key policy delegates to, or by a grant",
			"the key must be enabled, not pending deletion",
		}
	case strings.HasPrefix(code, "AccessDenied"):
		e.kind = ErrAccessDenied
		partition, account := arnParts(msg)
		region := w.region
		if region == "" {
			region = "REGION"
		}
		e.Reason = w.action + " denied"
		e.Fix = []string{fmt.Sprintf("allow ssm:GetParametersByPath and ssm:GetParameters on arn:%s:ssm:%s:%s:parameter%s/* in an IAM policy of the role envinit runs as",
			partition, region, account, w.prefix)}
	case badCredentialCodes[code]:
		e.kind = ErrUnavailable
		e.Reason = "AWS rejected the credentials (invalid, expired, or a clock far off)"
		e.Fix = w.credHint
	case throttles.IsErrorThrottle(apiErr).Bool():
		// Only reached when the operator capped the attempts.
		e.kind, e.Fix = ErrThrottled, throttledHints
		e.Reason = fmt.Sprintf("still throttled by SSM after %s", plural(attempts, "attempt"))
	case code == "ValidationException":
		e.kind = ErrConfig
		e.Reason = fmt.Sprintf("SSM rejected the request: check the prefix %q", w.prefix)
	default:
		e.kind = ErrUnavailable
		e.Reason = fmt.Sprintf("SSM failed (%s)", plural(max(attempts, 1), "attempt"))
	}
	return e
}

// isKMS tells a failure to decrypt from one to read. SSM has no KMS error
// codes of its own: a denied kms:Decrypt comes back as AccessDeniedException
// whose message is KMS's ("... kms:Decrypt ..." or "The ciphertext refers to
// a customer master key that does not exist ... (Service: AWSKMS ...)"), and
// a disabled, pending-deletion or deleted key as InvalidKeyId. Other
// services spell these KMS*Exception, which costs nothing to accept.
func isKMS(code, msg string) bool {
	if code == "InvalidKeyId" || strings.HasPrefix(code, "KMS") {
		return true
	}
	if !strings.HasPrefix(code, "AccessDenied") {
		return false
	}
	m := strings.ToLower(msg)
	return strings.Contains(m, "kms:") || strings.Contains(m, "awskms") || strings.Contains(m, "ciphertext")
}

// An ARN in an AccessDenied message ("User: arn:aws:sts::123456789012:
// assumed-role/...", "resource: arn:aws:ssm:...") gives the partition and
// account for a policy the operator can paste. Compiled on first use: every
// start would pay for it, few need it.
var arnRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`arn:(aws[a-z-]*):[a-z0-9-]+:[a-z0-9-]*:([0-9]{12}):`)
})

func arnParts(msg string) (partition, account string) {
	m := arnRE().FindStringSubmatch(msg)
	if m == nil {
		return "aws", "ACCOUNT"
	}
	return m[1], m[2]
}

// credentialsError marks a failure of the credential chain. The providers
// retry on their own (IMDS, the ECS/EKS endpoints, STS); retrying them again
// until the deadline would only turn a missing role into a 30-second wait.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string        { return e.err.Error() }
func (e *credentialsError) Unwrap() error        { return e.err }
func (e *credentialsError) RetryableError() bool { return false }

// credentialVars are the variables that select a source in the SDK's
// default chain, in the order the chain looks at them.
var credentialVars = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_EC2_METADATA_DISABLED",
}

// credentialHints name the sources the SDK tries and which of their
// variables are set here: names only, never values.
func credentialHints(lookup func(string) (string, bool)) []string {
	var set []string
	for _, v := range credentialVars {
		if _, ok := lookup(v); ok {
			set = append(set, v)
		}
	}
	setHere := "none of their variables is set here"
	if len(set) > 0 {
		setHere = "set here: " + strings.Join(set, ", ")
	}
	return []string{
		"the AWS SDK tries, in order:",
		"  AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY",
		"  AWS_PROFILE (shared config, SSO)",
		"  AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (EKS IRSA)",
		"  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS task role) or AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity)",
		"  EC2 instance metadata (IMDSv2: a container on EC2 needs the instance's metadata hop limit at 2 or more)",
		setHere,
	}
}

func envCredentialHint() []string { return credentialHints(os.LookupEnv) }

// plural says "1 attempt", "3 attempts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
