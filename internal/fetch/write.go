package fetch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/envinit/envinit/internal/resolve"
)

// WriteAPI is the part of *ssm.Client that Writer calls to change the
// store. It is apart from API so that the entrypoint, which only reads,
// holds nothing that can write.
type WriteAPI interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	DeleteParameter(ctx context.Context, in *ssm.DeleteParameterInput, optFns ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
}

var _ WriteAPI = (*ssm.Client)(nil)

// Writer reads and changes one environment's parameters for the operator
// tools (envinit secrets). It goes through the client of the SSM it was
// made from, so writes are retried like reads: throttling, 5xx and
// connection errors until the deadline on the call's context. Its errors
// are *Error, classified like the reads' (ErrAccessDenied, ErrThrottled,
// ErrUnavailable, ErrConfig) or resolve.ErrData for a parameter SSM
// refuses, and never hold a value, even one SSM's own message echoes.
type Writer struct {
	s   *SSM
	api WriteAPI
}

// NewWriter returns a Writer over s, which must have been made by Load or
// by New with an API that can also write.
func NewWriter(s *SSM) (*Writer, error) {
	api, ok := s.api.(WriteAPI)
	if !ok {
		return nil, &Error{kind: ErrConfig, Reason: "this SSM client cannot write parameters"}
	}
	return &Writer{s: s, api: api}, nil
}

// Environment reads the whole environment, as SSM's Environment does: a
// write tool reads it to know what a change would do before making it.
func (w *Writer) Environment(ctx context.Context, progress func(Progress)) (*Environment, error) {
	return w.s.Environment(ctx, progress)
}

// Put stores value as the parameter name (see Name), a SecureString,
// replacing any earlier value. kmsKeyID is the KMS key to encrypt it
// with; empty, SSM uses the account's default key for SSM (alias/aws/ssm).
func (w *Writer) Put(ctx context.Context, name string, value resolve.Value, kmsKeyID string) error {
	in := &ssm.PutParameterInput{
		Name:      aws.String(name),
		Value:     aws.String(value.Reveal()),
		Type:      types.ParameterTypeSecureString,
		Overwrite: aws.Bool(true),
	}
	if kmsKeyID != "" {
		in.KeyId = aws.String(kmsKeyID)
	}
	callCtx, log := withAttemptLog(ctx, &w.s.throttled)
	if _, err := w.api.PutParameter(callCtx, in, retryConcurrentUpdates); err != nil {
		return w.classify(ctx, err, "ssm:PutParameter", name, log, value.Reveal())
	}
	return nil
}

// Delete removes the parameter name. One that does not exist is an error
// matching resolve.ErrData, unless an earlier attempt of this call deleted
// it and its answer was lost.
func (w *Writer) Delete(ctx context.Context, name string) error {
	callCtx, log := withAttemptLog(ctx, &w.s.throttled)
	_, err := w.api.DeleteParameter(callCtx, &ssm.DeleteParameterInput{Name: aws.String(name)}, retryConcurrentUpdates)
	var notFound *types.ParameterNotFound
	if errors.As(err, &notFound) && log.attempts > 1 {
		return nil
	}
	if err != nil {
		return w.classify(ctx, err, "ssm:DeleteParameter", name, log, "")
	}
	return nil
}

// retryConcurrentUpdates also retries TooManyUpdates, which SSM answers
// while another write to the same parameter is in progress: like
// throttling, it passes.
func retryConcurrentUpdates(o *ssm.Options) {
	if o.Retryer != nil {
		o.Retryer = retry.AddWithErrorCodes(o.Retryer, "TooManyUpdates")
	}
}

// classify is the reads' classification with what a write adds: the IAM
// and KMS permissions a write needs, and SSM's reasons for refusing a
// parameter. value, when not empty, is the value being written: an SDK
// error that quotes it loses its message.
func (w *Writer) classify(ctx context.Context, err error, action, name string, log *attemptLog, value string) error {
	e := classify(ctx, err, w.s.where(action, name), log).(*Error)
	var apiErr smithy.APIError
	if e.kind != nil && errors.As(e, &apiErr) { // kind is nil when interrupted
		code := apiErr.ErrorCode()
		switch {
		case isKMS(code, apiErr.ErrorMessage()):
			e.kind = ErrAccessDenied
			e.Reason = "KMS refused to encrypt the value"
			e.Fix = []string{
				"the identity running envinit secrets needs kms:Encrypt (kms:GenerateDataKey for advanced parameters) on the key given with --kms-key-id, or on the account's aws/ssm key",
				"the key must exist in this region and be enabled",
			}
		case errors.Is(e, ErrAccessDenied):
			partition, account := arnParts(apiErr.ErrorMessage())
			region := w.s.region
			if region == "" {
				region = "REGION"
			}
			e.Reason = action + " denied"
			e.Fix = []string{fmt.Sprintf("allow ssm:PutParameter, ssm:DeleteParameter, ssm:GetParametersByPath and ssm:GetParameters "+
				"on arn:%s:ssm:%s:%s:parameter%s/*, and ssm:DescribeParameters on \"*\", to the identity running envinit secrets "+
				"(examples/iam/operator-policy.json)", partition, region, account, w.s.prefix)}
		case code == "TooManyUpdates":
			e.kind, e.Fix = ErrThrottled, []string{"try again"}
			e.Reason = "another write to this parameter kept SSM busy until the deadline"
		case code == "ParameterNotFound":
			e.kind, e.Fix = resolve.ErrData, nil
			e.Reason = "no such parameter"
		case code == "HierarchyTypeMismatchException":
			e.kind = resolve.ErrData
			e.Reason = "the parameter exists as a String or StringList, and SSM cannot change a parameter's type: unset it, then set it again (as a SecureString)"
		case code == "ParameterLimitExceeded":
			e.kind = ErrUnavailable
			e.Reason = "the account holds as many parameters as SSM allows in this region: delete unused ones, or enable the advanced tier"
		case code == "ParameterMaxVersionLimitExceeded":
			e.kind = ErrUnavailable
			e.Reason = "the parameter has 100 versions and SSM keeps no more while the oldest is labelled: remove that label (aws ssm unlabel-parameter-version) or unset the key and set it again"
		case code == "ValidationException", code == "ParameterPatternMismatchException", code == "HierarchyLevelLimitExceededException", code == "UnsupportedParameterType":
			e.kind = resolve.ErrData
			e.Reason = "SSM refused the parameter (a standard parameter holds at most 4 KB; an advanced one 8 KB)"
		}
	}
	if value != "" && strings.Contains(e.Error(), value) {
		e.Err, e.last = withheld(e.Err), withheld(e.last)
	}
	return e
}

// withheldError stands for an SDK error whose message quoted the value
// being written: it keeps the operation, the code and the request id, and
// the original for errors.As.
type withheldError struct{ err error }

func withheld(err error) error {
	if err == nil {
		return nil
	}
	return &withheldError{err}
}

func (e *withheldError) Error() string {
	var b strings.Builder
	var op *smithy.OperationError
	if errors.As(e.err, &op) {
		fmt.Fprintf(&b, "operation %s: ", op.Operation())
	}
	var apiErr smithy.APIError
	if errors.As(e.err, &apiErr) {
		b.WriteString(apiErr.ErrorCode())
	} else {
		b.WriteString("error")
	}
	var resp *awshttp.ResponseError
	if errors.As(e.err, &resp) && resp.RequestID != "" {
		fmt.Fprintf(&b, ", request id %s", resp.RequestID)
	}
	b.WriteString(" (SSM's message is withheld: it quotes the value)")
	return b.String()
}

func (e *withheldError) Unwrap() error { return e.err }
