package fetch

import (
	"context"
	"os"
	"testing"
)

// BenchmarkLoad measures what envinit pays before its first request:
// config.LoadDefaultConfig plus building the SSM client, with static
// credentials from the environment (a task or pod role adds its own
// round trip, not measured here). The endpoint is plain HTTP on loopback,
// where nothing listens: Load opens no connection ahead to it (it would
// to an https one, and to AWS's own endpoint reach the network).
//
//	go test -run '^$' -bench Load -benchmem ./internal/fetch/
func BenchmarkLoad(b *testing.B) {
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	for _, bc := range []struct{ name, caBundle string }{
		{"plain", ""},
		{"AWS_CA_BUNDLE", bundle},
	} {
		b.Run(bc.name, func(b *testing.B) {
			awsEnv(b, "http://127.0.0.1:1")
			if bc.caBundle != "" {
				if _, err := os.Stat(bc.caBundle); err != nil {
					b.Skip(err)
				}
				b.Setenv("AWS_CA_BUNDLE", bc.caBundle)
			}
			for b.Loop() {
				if _, err := Load(context.Background(), "", DefaultRetry); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
