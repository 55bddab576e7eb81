package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestHoldGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for _, tc := range []struct {
		name        string
		limit, want int64
	}{
		{"no GOMEMLIMIT", math.MaxInt64, gcLimit},
		{"a lower GOMEMLIMIT wins", 16 << 20, 16 << 20},
		{"a higher one does not", 1 << 30, gcLimit},
	} {
		debug.SetMemoryLimit(tc.limit)
		debug.SetGCPercent(100)
		holdGC()
		if got := debug.SetGCPercent(100); got != -1 {
			t.Errorf("%s: GC percent: got %d; want -1 (off until the limit)", tc.name, got)
		}
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("%s: memory limit: got %d; want %d", tc.name, got, tc.want)
		}
	}
}
