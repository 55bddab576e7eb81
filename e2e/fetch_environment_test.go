package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFetchEnvironmentEmulator reads a whole environment — every service,
// the globals, a key that is not a valid name, a nested parameter, more
// than one page of DescribeParameters — from kumo through the real SDK,
// with the client envinit's tools build (fetch.Load). It runs the fetch
// package's own live test (internal/fetch/live_test.go), built from the
// main module with the SDK versions the binary ships, against this test's
// emulator and under this test's prefix; the tools that read through it
// (secrets, fingerprint) have their own tests through the binary.
func TestFetchEnvironmentEmulator(t *testing.T) {
	e := startSSM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestEnvironmentLive$", "-v", "./internal/fetch")
	cmd.Dir = ".."
	cmd.Env = append(withEnv(os.Environ(), "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CA_BUNDLE"),
		append(e.awsEnv(), "ENVINIT_TEST_LIVE_PREFIX="+e.prefix(t))...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestEnvironmentLive") {
		t.Fatalf("go test -run TestEnvironmentLive ./internal/fetch: %v\n%s", err, redact(string(out)))
	}
}
