package resolve

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Value holds a secret value. It prints as [redacted] under every fmt verb,
// json.Marshal and slog; Reveal is the one way to read it. The string sits
// behind a pointer because fmt does not call methods on values it reaches
// through unexported fields: a struct holding a Value prints the pointer's
// address with %+v, never the bytes.
type Value struct{ p *string }

// NewValue wraps s.
func NewValue(s string) Value { return Value{p: &s} }

// Reveal returns the secret. Call it only where the value leaves envinit:
// the environment of COMMAND, a secret file, an explicit --reveal.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v Value) String() string   { return redacted }
func (v Value) GoString() string { return redacted }

// Format makes every verb, including %x, %q and %d, print [redacted].
func (v Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON keeps the value out of JSON.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps the value out of encoders that prefer text.
func (v Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue keeps the value out of slog output.
func (v Value) LogValue() slog.Value { return slog.StringValue(redacted) }
