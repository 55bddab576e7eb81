package resolve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	v := NewValue(canary)
	holder := struct {
		Name   string
		Secret Value
		hidden Value
		Ptr    *Value
	}{"k", v, v, &v}
	s := Secret{Key: "K", Value: v}

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("msg", "v", v, "s", s, "h", holder)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("msg", "v", v, "s", s, "h", holder)
	jsonOut, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	secretOut, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", v), "%+v": fmt.Sprintf("%+v", v), "%#v": fmt.Sprintf("%#v", v),
		"%s": fmt.Sprintf("%s", v), "%q": fmt.Sprintf("%q", v), "%x": fmt.Sprintf("%x", v),
		"%d": fmt.Sprintf("%d", v), "Sprint": fmt.Sprint(v), "Errorf %w-less": fmt.Errorf("e: %v", v).Error(),
		"struct %v": fmt.Sprintf("%v", holder), "struct %+v": fmt.Sprintf("%+v", holder),
		"struct %#v": fmt.Sprintf("%#v", holder), "Secret %+v": fmt.Sprintf("%+v", s),
		"Secret %#v": fmt.Sprintf("%#v", s), "slice %v": fmt.Sprintf("%v", []Value{v}),
		"map %v": fmt.Sprintf("%v", map[string]Value{"k": v}),
		"json":   string(jsonOut), "json Secret": string(secretOut),
		"slog text": text.String(), "slog json": js.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, canary) {
			t.Errorf("%s prints the value: %q", name, strings.ReplaceAll(out, canary, "<CANARY>"))
		}
	}
	for _, name := range []string{"%v", "%#v", "%q", "json", "slog text"} {
		if !strings.Contains(outputs[name], "[redacted]") {
			t.Errorf("%s: got %q; want it to say [redacted]", name, outputs[name])
		}
	}
	if got := v.Reveal(); got != canary {
		t.Errorf("Reveal() = %q; want the value", got)
	}
	if got := (Value{}).Reveal(); got != "" {
		t.Errorf("zero Value Reveal() = %q; want empty", got)
	}
}
