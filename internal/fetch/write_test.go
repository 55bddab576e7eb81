package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/envinit/envinit/internal/resolve"
)

// fakeWriteAPI is a fakeAPI that can also write.
type fakeWriteAPI struct {
	fakeAPI
	put func(*ssm.PutParameterInput) error
	del func(*ssm.DeleteParameterInput) error
}

func (f *fakeWriteAPI) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	return &ssm.PutParameterOutput{}, f.put(in)
}

func (f *fakeWriteAPI) DeleteParameter(_ context.Context, in *ssm.DeleteParameterInput, _ ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error) {
	return &ssm.DeleteParameterOutput{}, f.del(in)
}

func newWriter(t *testing.T, api API) *Writer {
	t.Helper()
	w, err := NewWriter(newSSM(t, "/env/", api))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWriterNeedsAWriteAPI(t *testing.T) {
	_, err := NewWriter(newSSM(t, "", &fakeAPI{}))
	if !errors.Is(err, ErrConfig) {
		t.Errorf("NewWriter over a read-only API = %v; want ErrConfig", err)
	}
}

func TestWriterPutIsAnOverwritingSecureString(t *testing.T) {
	var got []*ssm.PutParameterInput
	api := &fakeWriteAPI{put: func(in *ssm.PutParameterInput) error { got = append(got, in); return nil }}
	w := newWriter(t, api)
	if n := Name("/env", "api", "DB_PASSWORD"); n != "/env/services/api/DB_PASSWORD" {
		t.Errorf("Name of a service's key = %q; want /env/services/api/DB_PASSWORD", n)
	}
	if n := Name("/env", "", "DB_HOST"); n != "/env/global/DB_HOST" {
		t.Errorf("Name of a global = %q; want /env/global/DB_HOST", n)
	}
	ctx := context.Background()
	if err := w.Put(ctx, Name("/env", "api", "DB_PASSWORD"), resolve.NewValue(canary), ""); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(ctx, Name("/env", "", "DB_HOST"), resolve.NewValue("db"), "alias/envinit"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ name, value, keyID string }{
		{"/env/services/api/DB_PASSWORD", canary, ""},
		{"/env/global/DB_HOST", "db", "alias/envinit"},
	} {
		in := got[i]
		if aws.ToString(in.Name) != want.name || aws.ToString(in.Value) != want.value || aws.ToString(in.KeyId) != want.keyID {
			t.Errorf("put %d: name %q, key id %q; want %q, %q", i, aws.ToString(in.Name), aws.ToString(in.KeyId), want.name, want.keyID)
		}
		if in.Type != types.ParameterTypeSecureString || !aws.ToBool(in.Overwrite) {
			t.Errorf("put %d: type %q, overwrite %v; want SecureString, true", i, in.Type, aws.ToBool(in.Overwrite))
		}
		if in.KeyId == nil && want.keyID != "" || in.KeyId != nil && want.keyID == "" {
			t.Errorf("put %d: KeyId %v; want it set only when given", i, in.KeyId)
		}
	}
}

func TestWriterDelete(t *testing.T) {
	var deleted []string
	api := &fakeWriteAPI{
		del: func(in *ssm.DeleteParameterInput) error {
			deleted = append(deleted, aws.ToString(in.Name))
			if aws.ToString(in.Name) == "/env/global/NOPE" {
				return opError("DeleteParameter", &types.ParameterNotFound{Message: aws.String("not found")})
			}
			return nil
		},
	}
	w := newWriter(t, api)
	if err := w.Delete(context.Background(), "/env/global/A"); err != nil {
		t.Fatal(err)
	}
	err := w.Delete(context.Background(), "/env/global/NOPE")
	if !errors.Is(err, resolve.ErrData) || !strings.Contains(err.Error(), "/env/global/NOPE: no such parameter") {
		t.Errorf("Delete of a missing key = %v; want a data error naming it", err)
	}
	if strings.Join(deleted, " ") != "/env/global/A /env/global/NOPE" {
		t.Errorf("deleted %q", deleted)
	}
}

// Every way a write can fail is classified for main, says what to do, and
// never holds the value, even when SSM's message quotes it.
func TestWriterErrors(t *testing.T) {
	tests := []struct {
		code, msg string
		kind      error
		want      string
	}{
		{"ValidationException", "1 validation error detected: Value '" + canary + "' at 'value' failed to satisfy constraint: Member must have length less than or equal to 4096",
			resolve.ErrData, "at most 4 KB"},
		{"AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: ssm:PutParameter on resource: arn:aws:ssm:us-east-1:123456789012:parameter/env/services/api/K",
			ErrAccessDenied, "allow ssm:PutParameter, ssm:DeleteParameter, ssm:GetParametersByPath and ssm:GetParameters on arn:aws:ssm:REGION:123456789012:parameter/env/*, and ssm:DescribeParameters"},
		{"AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:...",
			ErrAccessDenied, "needs kms:Encrypt"},
		{"InvalidKeyId", "Invalid keyId alias/nope", ErrAccessDenied, "--kms-key-id"},
		{"HierarchyTypeMismatchException", "can't change type", resolve.ErrData, "unset it, then set it again"},
		{"ParameterLimitExceeded", "limit", ErrUnavailable, "delete unused ones"},
		{"ParameterMaxVersionLimitExceeded", "100 versions", ErrUnavailable, "unlabel-parameter-version"},
		{"UnrecognizedClientException", "bad token", ErrUnavailable, "rejected the credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			api := &fakeWriteAPI{put: func(*ssm.PutParameterInput) error {
				return opError("PutParameter", &smithy.GenericAPIError{Code: tc.code, Message: tc.msg})
			}}
			w := newWriter(t, api)
			err := w.Put(context.Background(), "/env/services/api/K", resolve.NewValue(canary), "")
			if !errors.Is(err, tc.kind) {
				t.Errorf("got %v; want it to match %v", err, tc.kind)
			}
			if !strings.Contains(text(err), tc.want) || !strings.Contains(text(err), "/env/services/api/K") {
				t.Errorf("got %q; want it to name the parameter and say %q", strings.ReplaceAll(text(err), canary, "<CANARY>"), tc.want)
			}
			noCanary(t, err)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Errorf("errors.As(smithy.APIError) lost the SDK error")
			}
		})
	}
}

// Writes go through the client Load builds: retried like reads, and
// TooManyUpdates (another write to the same parameter) too.
func TestWriterRetries(t *testing.T) {
	for _, failure := range []string{"ThrottlingException", "TooManyUpdates", "InternalServerError"} {
		t.Run(failure, func(t *testing.T) {
			var targets []string
			f := startSSM(t, func(n int, w http.ResponseWriter, r *http.Request) {
				targets = append(targets, r.Header.Get("X-Amz-Target"))
				var body map[string]any
				_ = json.NewDecoder(r.Body).Decode(&body)
				if body["Type"] != "SecureString" || body["Overwrite"] != true || body["Value"] != canary {
					t.Errorf("request %d: Type %v, Overwrite %v; want SecureString, true and the value", n, body["Type"], body["Overwrite"])
				}
				if n <= 2 {
					status := 400
					if failure == "InternalServerError" {
						status = 500
					}
					apiError(w, n, status, failure, "try later")
					return
				}
				writeJSON(w, n, 200, map[string]any{"Version": 3, "Tier": "Standard"})
			})
			w, err := NewWriter(load(t, fastRetry))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Put(withTimeout(t, 10*time.Second), "/envinit/services/svc/K", resolve.NewValue(canary), ""); err != nil {
				t.Fatalf("Put = %v; want success after two retries", err)
			}
			if n := f.calls.Load(); n != 3 || targets[0] != "AmazonSSM.PutParameter" {
				t.Errorf("%d requests to %v; want 3 PutParameter", n, targets)
			}
		})
	}
}

func TestWriterConcurrentUpdatesUntilDeadline(t *testing.T) {
	startSSM(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		apiError(w, n, 400, "TooManyUpdates", "busy")
	})
	w, err := NewWriter(load(t, fastRetry))
	if err != nil {
		t.Fatal(err)
	}
	err = w.Put(withTimeout(t, 300*time.Millisecond), "/envinit/services/svc/K", resolve.NewValue(canary), "")
	if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), "another write") {
		t.Errorf("Put = %v; want ErrThrottled saying another write kept SSM busy", err)
	}
	noCanary(t, err)
}

// A delete whose answer is lost and whose retry finds nothing succeeded.
func TestWriterDeleteRetriedAfterLostAnswer(t *testing.T) {
	f := startSSM(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			apiError(w, n, 500, "InternalServerError", "")
			return
		}
		apiError(w, n, 400, "ParameterNotFound", "Parameter not found")
	})
	w, err := NewWriter(load(t, fastRetry))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(withTimeout(t, 10*time.Second), "/envinit/services/svc/K"); err != nil {
		t.Errorf("Delete = %v; want success", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d requests; want 2", n)
	}
}
