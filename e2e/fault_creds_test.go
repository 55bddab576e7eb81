package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// credsEndpoint is a fake of the ECS / EKS Pod Identity credentials
// endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), answering every request
// with answer.
type credsEndpoint struct {
	URL      string       // http://127.0.0.1:PORT/creds
	requests atomic.Int32 // requests received
}

// startCredsEndpoint serves answer on /creds. A handler that hangs is
// released when the test ends, so the server can close.
func startCredsEndpoint(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, release <-chan struct{})) *credsEndpoint {
	t.Helper()
	c := &credsEndpoint{}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		answer(w, r, release)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: cleanups are LIFO
	c.URL = srv.URL + "/creds"
	return c
}

// credsEnv is f's environment with no static keys: the SDK's chain reaches
// the container credentials endpoint at url.
func credsEnv(f *fixture, url string, extra ...string) []string {
	env := withEnv(f.env("api"), "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI="+url)
	return withEnv(env, extra...)
}

// The credentials endpoint answering 500, bad JSON or nothing at all: the
// store is unavailable (69), within the deadline, COMMAND not started, no
// file written, and nothing the endpoint sent (a secret access key, a
// session token) nor any seeded value on stdout or stderr. A control case
// with good credentials proves the endpoint is the one consulted.
func TestFaultCredentialsEndpoint(t *testing.T) {
	t.Parallel()
	const deadline = 4 * time.Second
	cases := []struct {
		name   string
		answer func(key, token string) func(w http.ResponseWriter, r *http.Request, release <-chan struct{})
		want   int
	}{
		{
			name: "good credentials",
			answer: func(key, token string) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
				return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"AccessKeyId":"ASIAENVINITTEST","SecretAccessKey":%q,"Token":%q,"Expiration":%q}`,
						key, token, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
				}
			},
			want: 0,
		},
		{
			name: "500",
			answer: func(key, token string) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
				return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusInternalServerError)
					fmt.Fprint(w, `{"code":"InternalError","message":"credentials agent unavailable"}`)
				}
			},
			want: 69,
		},
		{
			name: "truncated JSON",
			answer: func(key, token string) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
				return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"AccessKeyId":"ASIAENVINITTEST","SecretAccessKey":%q,"Token":%q,"Expir`, key, token)
				}
			},
			want: 69,
		},
		{
			name: "JSON of the wrong shape",
			answer: func(key, token string) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
				return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"AccessKeyId":17,"SecretAccessKey":%q,"Token":%q}`, key, token)
				}
			},
			want: 69,
		},
		{
			name: "not JSON",
			answer: func(key, token string) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
				return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
					fmt.Fprintf(w, "<html>%s %s</html>", key, token)
				}
			},
			want: 69,
		},
		{
			name: "hangs",
			answer: func(key, token string) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
				return func(_ http.ResponseWriter, r *http.Request, release <-chan struct{}) {
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}
			},
			want: 69,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			token := newCanary("api/TOKEN")
			f.seed(t, map[string]string{
				"services/api/__sensitive": "TOKEN",
				"services/api/TOKEN":       token,
				"services/api/PLAIN":       newCanary("api/PLAIN"),
			})
			// What the endpoint sends is as secret as the store's values.
			credKey, credToken := newCanary("credentials SecretAccessKey"), newCanary("credentials Token")
			f.seeded = append(f.seeded, credKey, credToken)
			ep := startCredsEndpoint(t, tc.answer(credKey, credToken))
			env := credsEnv(f, ep.URL, fmt.Sprintf("ENVINIT_TIMEOUT=%s", deadline))

			var r result
			if tc.want == 0 {
				p := f.runOK(t, env, f.probe()...)
				assertSecretFile(t, p, f.secrets, "TOKEN", token)
			} else {
				r = f.runFail(t, tc.want, env, f.probe()...)
				// Credential failures are not retried until the deadline:
				// only a hang waits for it.
				if bound := deadline + 15*time.Second; r.Elapsed > bound {
					t.Errorf("elapsed: got %v; want under %v", r.Elapsed, bound)
				}
				if !strings.Contains(r.Stderr, "credentials") {
					t.Errorf("stderr: got %q; want it to say the credentials failed", redact(r.Stderr))
				}
				if !strings.Contains(r.Stderr, "AWS_CONTAINER_CREDENTIALS_FULL_URI") {
					t.Errorf("stderr: got %q; want it to name the variable that chose the endpoint", redact(r.Stderr))
				}
			}
			if n := ep.requests.Load(); n < 1 {
				t.Errorf("credentials endpoint: got %d requests; want at least 1 (the chain must reach it)", n)
			}
			t.Logf("exit %d in %v, %d requests to the endpoint", r.Code, r.Elapsed.Round(time.Millisecond), ep.requests.Load())
		})
	}
}
