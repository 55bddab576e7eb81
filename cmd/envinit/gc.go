package main

import "runtime/debug"

// gcLimit is the heap (and the rest of the runtime's memory) past which
// the collector runs before the exec. A start allocates a few megabytes
// (the AWS SDK's initialisers, a trust store, the store's pages) and ends
// in an exec or an exit: a collection before that frees nothing that
// matters and costs CPU. An operator's lower GOMEMLIMIT wins.
const gcLimit = 32 << 20

// holdGC turns the collector off until the process nears gcLimit.
func holdGC() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(min(gcLimit, debug.SetMemoryLimit(-1)))
}
