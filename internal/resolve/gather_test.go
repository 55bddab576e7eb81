package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// deployStore is the shape of a real deploy (docs/BENCHMARKS.md): a service of 25
// keys, 12 of them referencing globals, importing two services of 15 keys
// each; the second references a global the first service does not.
func deployStore() map[string]string {
	p := map[string]string{"services/api/__import_svc": "$auth, $billing"}
	for i := range 24 {
		v := fmt.Sprintf("value-%d", i)
		if i < 12 {
			v = fmt.Sprintf("x://#{$/G%d}", i)
			p[fmt.Sprintf("global/G%d", i)] = fmt.Sprintf("g%d", i)
		}
		p[fmt.Sprintf("services/api/K%02d", i)] = v
	}
	for _, svc := range []string{"auth", "billing"} {
		for i := range 15 {
			p[fmt.Sprintf("services/%s/%s%02d", svc, strings.ToUpper(svc[:1]), i)] = "v"
		}
	}
	p["services/auth/A00"] = "#{$/G0}" // already asked for: no second fetch
	p["services/billing/B00"] = "#{$/ONLY_BILLING}"
	p["global/ONLY_BILLING"] = "b"
	return p
}

func TestGatherDeployShape(t *testing.T) {
	src := &storeSource{params: deployStore(), latency: 25 * time.Millisecond}
	g, err := Gather(context.Background(), src, "api", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(g, "api", nil); err != nil {
		t.Fatal(err)
	}
	// Pages: api 3 (25 keys), auth 2, billing 2. Names: 12 globals plus the
	// globals' __sensitive in two batches, ONLY_BILLING in a third.
	if got, want := src.count("path"), 7; got != want {
		t.Errorf("got %d GetParametersByPath pages; want %d", got, want)
	}
	if got, want := src.count("names"), 3; got != want {
		t.Errorf("got %d GetParameters calls; want %d", got, want)
	}
	// api's three pages, then the imports' two (found on api's last page),
	// then billing's global (found on billing's pages).
	if got, want := src.chain(), 6; got != want {
		t.Errorf("got a chain of %d dependent round trips; want %d", got, want)
	}
	seen := map[string]bool{}
	for _, c := range src.calls {
		for _, n := range strings.Split(c.arg, ",") {
			if c.op == "names" && seen[n] {
				t.Errorf("global %s asked for twice", n)
			}
			seen[n] = true
		}
		if c.op == "names" && len(strings.Split(c.arg, ",")) > MaxGlobalsPerCall {
			t.Errorf("a GetParameters call with %d names; want at most %d", len(strings.Split(c.arg, ",")), MaxGlobalsPerCall)
		}
	}
	if got := g.Calls(); got.Services != 3 || got.Globals != 3 {
		t.Errorf("Calls() = %+v; want 3 services and 3 globals calls", got)
	}
}

func TestGatherReadsEachServiceOnce(t *testing.T) {
	src := &storeSource{params: map[string]string{
		"services/api/__import_svc": "$a, $b, $a",
		"services/api/X":            "#{$a/K}#{$b/K}#{$/G}#{$/G}",
		"services/a/__import_svc":   "$b",
		"services/a/K":              "#{$/G}",
		"services/b/K":              "#{$a/K}",
		"global/G":                  "#{$b/K}",
	}}
	g, err := Gather(context.Background(), src, "api", []string{"E=#{$a/K}#{$/G}"})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Services(); strings.Join(got, ",") != "a,api,b" {
		t.Errorf("Services() = %v; want [a api b]", got)
	}
	if got := src.count("path"); got != 3 {
		t.Errorf("got %d path reads; want 3", got)
	}
	if got := src.count("names"); got != 1 {
		t.Errorf("got %d names reads; want 1", got)
	}
}

func TestGatherStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("store down")
	src := &storeSource{params: deployStore(), err: boom}
	_, err := Gather(context.Background(), src, "api", nil)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v; want %v", err, boom)
	}
}

func TestGatherHonoursCancellation(t *testing.T) {
	src := &storeSource{params: deployStore(), latency: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Gather(ctx, src, "api", nil)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Gather did not return after cancellation")
	}
}
