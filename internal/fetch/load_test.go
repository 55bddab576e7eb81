package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/envinit/envinit/internal/resolve"
)

// These tests drive a real *ssm.Client, built by Load, against a local
// server: they prove the SDK's own retry path with envinit's settings.

// fastRetry keeps the backoff short so a test reaches its deadline in many
// attempts, not a few long sleeps.
var fastRetry = Retry{AttemptTimeout: 5 * time.Second, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}

// awsEnv isolates the SDK from the host's AWS settings and points it at
// endpoint with static credentials.
func awsEnv(t testing.TB, endpoint string) {
	dir := t.TempDir()
	unset := []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		"AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_DEFAULTS_MODE",
	}
	for _, k := range unset {
		t.Setenv(k, "") // restores the variable after the test
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL_SSM", endpoint)
}

// fakeSSM answers the n-th request (from 1) with respond.
type fakeSSM struct {
	*httptest.Server
	calls   atomic.Int32
	respond func(n int, w http.ResponseWriter, r *http.Request)
	done    chan struct{} // closed at cleanup: releases hung handlers
}

func startSSM(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *fakeSSM {
	t.Helper()
	f := &fakeSSM{respond: respond, done: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.respond(int(f.calls.Add(1)), w, r)
	}))
	t.Cleanup(f.Close)
	t.Cleanup(func() { close(f.done) }) // runs first
	awsEnv(t, f.URL)
	return f
}

func load(t *testing.T, r Retry) *SSM {
	t.Helper()
	s, err := Load(context.Background(), "", r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeJSON(w http.ResponseWriter, n, status int, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprint("req-", n))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// page answers GetParametersByPath for /envinit/services/svc.
func page(w http.ResponseWriter, n int) {
	writeJSON(w, n, 200, map[string]any{"Parameters": []map[string]string{
		{"Name": "/envinit/services/svc/API_KEY", "Value": canary, "Type": "SecureString"},
	}})
}

func apiError(w http.ResponseWriter, n, status int, code, msg string) {
	writeJSON(w, n, status, map[string]string{"__type": code, "message": msg})
}

func (f *fakeSSM) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.done:
	}
}

func hijack(t *testing.T, w http.ResponseWriter) net.Conn {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
	}
	return conn
}

func readService(ctx context.Context, s *SSM) (map[string]string, error) {
	got := map[string]string{}
	err := s.Service(ctx, "svc", func(kv map[string]resolve.Value) { maps.Copy(got, reveal(kv)) })
	return got, err
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestLoadRequests(t *testing.T) {
	var bodies []map[string]any
	var targets []string
	f := startSSM(t, func(n int, w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		bodies = append(bodies, body)
		targets = append(targets, r.Header.Get("X-Amz-Target"))
		if n == 1 {
			page(w, n)
			return
		}
		writeJSON(w, n, 200, map[string]any{
			"Parameters":        []map[string]string{{"Name": "/envinit/global/DB_HOST", "Value": "db"}},
			"InvalidParameters": []string{"/envinit/global/NOPE"},
		})
	})
	s := load(t, fastRetry)
	got, err := readService(context.Background(), s)
	if err != nil || got["API_KEY"] != canary {
		t.Fatalf("Service = %v, %v", got, err)
	}
	globals, err := s.Globals(context.Background(), []string{"DB_HOST", "NOPE"})
	if err != nil || len(globals) != 1 || globals["DB_HOST"].Reveal() != "db" {
		t.Fatalf("Globals = %v, %v; want only DB_HOST", reveal(globals), err)
	}
	if f.calls.Load() != 2 {
		t.Fatalf("%d requests; want 2", f.calls.Load())
	}
	if targets[0] != "AmazonSSM.GetParametersByPath" || targets[1] != "AmazonSSM.GetParameters" {
		t.Errorf("operations = %q", targets)
	}
	wantPath := map[string]any{"Path": "/envinit/services/svc", "MaxResults": float64(10), "Recursive": false, "WithDecryption": true}
	for k, v := range wantPath {
		if bodies[0][k] != v {
			t.Errorf("GetParametersByPath %s = %v; want %v", k, bodies[0][k], v)
		}
	}
	if names := fmt.Sprint(bodies[1]["Names"]); names != "[/envinit/global/DB_HOST /envinit/global/NOPE]" || bodies[1]["WithDecryption"] != true {
		t.Errorf("GetParameters Names = %s, WithDecryption = %v", names, bodies[1]["WithDecryption"])
	}
}

func TestThrottledUntilDeadline(t *testing.T) {
	f := startSSM(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		apiError(w, n, 400, "ThrottlingException", "Rate exceeded")
	})
	s := load(t, fastRetry)
	const deadline = time.Second
	start := time.Now()
	_, err := readService(withTimeout(t, deadline), s)
	elapsed := time.Since(start)

	if !errors.Is(err, ErrThrottled) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Service = %v; want ErrThrottled only", err)
	}
	if elapsed < deadline || elapsed > deadline+300*time.Millisecond {
		t.Errorf("failed after %v; want at the deadline %v", elapsed, deadline)
	}
	// The SDK's retry quota (500 tokens, 5 per throttled retry) would stop
	// after 100 retries, its default MaxAttempts after 3.
	if n := f.calls.Load(); n <= 101 {
		t.Errorf("%d attempts; want more than 101 (no attempt cap, no retry quota)", n)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || !strings.HasPrefix(re.RequestID, "req-") {
		t.Errorf("errors.As(*awshttp.ResponseError) = %v; want the last attempt's request id", re)
	}
	noCanary(t, err)
}

func TestRetryUntilSuccess(t *testing.T) {
	tests := []struct {
		name    string
		failure func(f *fakeSSM, w http.ResponseWriter, r *http.Request, n int)
	}{
		{"500", func(_ *fakeSSM, w http.ResponseWriter, _ *http.Request, n int) {
			apiError(w, n, 500, "InternalServerError", "")
		}},
		{"503 unmodeled", func(_ *fakeSSM, w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(503)
		}},
		{"throttled", func(_ *fakeSSM, w http.ResponseWriter, _ *http.Request, n int) {
			apiError(w, n, 400, "ThrottlingException", "Rate exceeded")
		}},
		{"connection reset", func(_ *fakeSSM, w http.ResponseWriter, _ *http.Request, _ int) {
			conn := hijack(t, w)
			_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
			conn.Close()
		}},
		{"closed without response", func(_ *fakeSSM, w http.ResponseWriter, _ *http.Request, _ int) {
			hijack(t, w).Close()
		}},
		{"body cut short", func(_ *fakeSSM, w http.ResponseWriter, _ *http.Request, _ int) {
			conn := hijack(t, w)
			fmt.Fprint(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 200\r\n\r\n{\"Parameters\":[{\"Na")
			conn.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Four failures: one more than the SDK's default attempts.
			var f *fakeSSM
			f = startSSM(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n <= 4 {
					tc.failure(f, w, r, n)
					return
				}
				page(w, n)
			})
			got, err := readService(withTimeout(t, 5*time.Second), load(t, fastRetry))
			if err != nil || got["API_KEY"] != canary {
				t.Fatalf("Service = %v; want the value after retries", err)
			}
			if n := f.calls.Load(); n != 5 {
				t.Errorf("%d requests; want 5", n)
			}
		})
	}
}

func TestHungAttemptRetried(t *testing.T) {
	var f *fakeSSM
	f = startSSM(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			f.hang(r)
			return
		}
		page(w, n)
	})
	r := fastRetry
	r.AttemptTimeout = 200 * time.Millisecond
	start := time.Now()
	got, err := readService(withTimeout(t, 5*time.Second), load(t, r))
	if err != nil || got["API_KEY"] != canary {
		t.Fatalf("Service = %v; want the value from the second attempt", err)
	}
	if elapsed := time.Since(start); elapsed < r.AttemptTimeout || elapsed > 2*time.Second {
		t.Errorf("took %v; want just over the %v attempt timeout", elapsed, r.AttemptTimeout)
	}
}

func TestHangUntilDeadline(t *testing.T) {
	var f *fakeSSM
	f = startSSM(t, func(_ int, _ http.ResponseWriter, r *http.Request) { f.hang(r) })
	r := fastRetry
	r.AttemptTimeout = 150 * time.Millisecond
	const deadline = 700 * time.Millisecond
	start := time.Now()
	_, err := readService(withTimeout(t, deadline), load(t, r))
	elapsed := time.Since(start)

	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrThrottled) {
		t.Fatalf("Service = %v; want ErrUnavailable only", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
	}
	if elapsed > deadline+300*time.Millisecond {
		t.Errorf("failed after %v; want at the deadline %v", elapsed, deadline)
	}
	if n := f.calls.Load(); n < 3 {
		t.Errorf("%d attempts; want the hung ones abandoned and retried", n)
	}
}

func TestThrottledThenHungUntilDeadline(t *testing.T) {
	// The last word from SSM was throttling, even if an attempt was in
	// flight when the deadline came: still a temporary failure.
	var f *fakeSSM
	f = startSSM(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 3 {
			apiError(w, n, 400, "ThrottlingException", "Rate exceeded")
			return
		}
		f.hang(r)
	})
	_, err := readService(withTimeout(t, 500*time.Millisecond), load(t, fastRetry))
	if !errors.Is(err, ErrThrottled) {
		t.Errorf("Service = %v; want ErrThrottled", err)
	}
}

func TestCanceled(t *testing.T) {
	var f *fakeSSM
	f = startSSM(t, func(_ int, _ http.ResponseWriter, r *http.Request) { f.hang(r) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := readService(ctx, load(t, fastRetry))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Service = %v; want context.Canceled", err)
	}
	for _, sentinel := range []error{ErrUnavailable, ErrThrottled, ErrAccessDenied, ErrConfig} {
		if errors.Is(err, sentinel) {
			t.Errorf("Service = %v; matches %v, want only context.Canceled", err, sentinel)
		}
	}
}

func TestAccessDenied(t *testing.T) {
	tests := []struct {
		name, code, msg string
		want            []string
		notWant         string
	}{
		{"ssm", "AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/app/task is not authorized to perform: ssm:GetParametersByPath on resource: arn:aws:ssm:us-east-1:123456789012:parameter/envinit/services/svc because no identity-based policy allows the ssm:GetParametersByPath action",
			[]string{"/envinit/services/svc: ssm:GetParametersByPath denied", "arn:aws:ssm:us-east-1:123456789012:parameter/envinit/*", "RequestID: req-1"},
			"kms:Decrypt"},
		{"kms denied", "AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/app/task is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/1234 because no identity-based policy allows the kms:Decrypt action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: x)",
			[]string{"kms:Decrypt failed", "key policy"}, "ssm:GetParametersByPath denied"},
		{"kms key disabled", "InvalidKeyId",
			"arn:aws:kms:us-east-1:123456789012:key/1234 is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException; Request ID: x)",
			[]string{"kms:Decrypt failed", "is disabled"}, "ssm:GetParametersByPath denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startSSM(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				apiError(w, n, 400, tc.code, tc.msg)
			})
			_, err := readService(withTimeout(t, 5*time.Second), load(t, fastRetry))
			if !errors.Is(err, ErrAccessDenied) {
				t.Fatalf("Service = %v; want ErrAccessDenied", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(text(err), w) {
					t.Errorf("error %q; want it to contain %q", err, w)
				}
			}
			if strings.Contains(text(err), tc.notWant) {
				t.Errorf("error %q; want it not to contain %q", err, tc.notWant)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("%d requests; want 1: a refusal is not retried", n)
			}
			var oe *smithy.OperationError
			if !errors.As(err, &oe) || oe.Operation() != "GetParametersByPath" {
				t.Errorf("errors.As(*smithy.OperationError) = %v; want the operation kept", oe)
			}
			noCanary(t, err)
		})
	}
}

func TestNoCredentials(t *testing.T) {
	f := startSSM(t, func(n int, w http.ResponseWriter, _ *http.Request) { page(w, n) })
	os.Unsetenv("AWS_ACCESS_KEY_ID") // restored by awsEnv's t.Setenv
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	start := time.Now()
	_, err := readService(withTimeout(t, 5*time.Second), load(t, fastRetry))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Service = %v; want ErrUnavailable", err)
	}
	for _, want := range []string{"no usable AWS credentials", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "hop limit", "set here: AWS_EC2_METADATA_DISABLED"} {
		if !strings.Contains(text(err), want) {
			t.Errorf("error %q; want it to contain %q", err, want)
		}
	}
	if f.calls.Load() != 0 || time.Since(start) > 2*time.Second {
		t.Errorf("%d requests in %v; want none, quickly: a missing role is not retried", f.calls.Load(), time.Since(start))
	}
}

func TestOperatorRetrySettings(t *testing.T) {
	tests := []struct {
		env, value string
		status     int
		code       string
		kind       error
		calls      int32
	}{
		{"AWS_MAX_ATTEMPTS", "2", 400, "ThrottlingException", ErrThrottled, 2},
		// The SDK's standard mode: three attempts.
		{"AWS_RETRY_MODE", "standard", 500, "InternalServerError", ErrUnavailable, 3},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			f := startSSM(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				apiError(w, n, tc.status, tc.code, "")
			})
			t.Setenv(tc.env, tc.value)
			_, err := readService(withTimeout(t, 10*time.Second), load(t, fastRetry))
			if !errors.Is(err, tc.kind) || f.calls.Load() != tc.calls {
				t.Errorf("Service = %v after %d requests; want %v after %d", err, f.calls.Load(), tc.kind, tc.calls)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Run("no region", func(t *testing.T) {
		awsEnv(t, "http://127.0.0.1:1")
		os.Unsetenv("AWS_REGION")
		_, err := Load(context.Background(), "", fastRetry)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "AWS_REGION") {
			t.Errorf("Load = %v; want ErrConfig naming AWS_REGION", err)
		}
	})
	t.Run("invalid setting", func(t *testing.T) {
		awsEnv(t, "http://127.0.0.1:1")
		t.Setenv("AWS_MAX_ATTEMPTS", "many")
		_, err := Load(context.Background(), "", fastRetry)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("Load = %v; want ErrConfig", err)
		}
	})
	t.Run("profile not found", func(t *testing.T) {
		awsEnv(t, "http://127.0.0.1:1")
		t.Setenv("AWS_PROFILE", "nope")
		_, err := Load(context.Background(), "", fastRetry)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("Load = %v; want ErrConfig", err)
		}
	})
}

func TestConnectionRefusedUntilDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	awsEnv(t, "http://"+addr)
	_, err = readService(withTimeout(t, 300*time.Millisecond), load(t, fastRetry))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Service = %v; want ErrUnavailable, connection refused", err)
	}
}
