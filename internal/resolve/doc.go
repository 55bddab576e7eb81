// Package resolve turns a service's parameters into its environment. It
// is pure: no network, no files, no clock. Gather walks the graph (the
// service, its imports, the services and globals its references name)
// asking a small Source for what it discovers, as early as it discovers
// it; Resolve computes the final values from what was gathered, reporting
// every problem as a typed error that names keys and references, never a
// value. Secret values travel as Value, which prints as [redacted].
//
// The rules are the README's: Store layout, References, Failing closed,
// Sensitive values.
package resolve
