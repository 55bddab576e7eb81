package fetch

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/envinit/envinit/internal/resolve"
)

func writeStore(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const flatStore = `{
  "/envinit/global/DB_HOST": "db.internal",
  "/envinit/global/DB_PASSWORD": "` + canary + `",
  "/envinit/services/svc/API_KEY": "key-` + canary + `",
  "/envinit/services/svc/URL": "postgres://#{$/DB_HOST}",
  "/envinit/services/svc/nested/DEEP": "not a key of svc",
  "/envinit/services/svc-other/OTHER": "another service",
  "/other/services/svc/ELSEWHERE": "another prefix"
}`

// What `aws ssm get-parameters-by-path --recursive --with-decryption` prints.
const cliStore = `{
    "Parameters": [
        {"Name": "/envinit/global/DB_HOST", "Type": "SecureString", "Value": "db.internal", "Version": 1,
         "LastModifiedDate": "2024-05-01T10:00:00+00:00", "ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/envinit/global/DB_HOST", "DataType": "text"},
        {"Name": "/envinit/global/DB_PASSWORD", "Type": "SecureString", "Value": "` + canary + `", "Version": 3},
        {"Name": "/envinit/services/svc/API_KEY", "Type": "SecureString", "Value": "key-` + canary + `", "Version": 1},
        {"Name": "/envinit/services/svc/URL", "Type": "SecureString", "Value": "postgres://#{$/DB_HOST}", "Version": 1},
        {"Name": "/envinit/services/svc/nested/DEEP", "Type": "SecureString", "Value": "not a key of svc", "Version": 1},
        {"Name": "/envinit/services/svc-other/OTHER", "Type": "SecureString", "Value": "another service", "Version": 1},
        {"Name": "/other/services/svc/ELSEWHERE", "Type": "SecureString", "Value": "another prefix", "Version": 1}
    ],
    "InvalidParameters": []
}`

func TestFileShapes(t *testing.T) {
	for name, content := range map[string]string{"flat": flatStore, "aws cli": cliStore} {
		t.Run(name, func(t *testing.T) {
			f, err := OpenFile(writeStore(t, content), "")
			if err != nil {
				t.Fatal(err)
			}
			var pages []map[string]string
			if err := f.Service(context.Background(), "svc", func(kv map[string]resolve.Value) { pages = append(pages, reveal(kv)) }); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"API_KEY": "key-" + canary, "URL": "postgres://#{$/DB_HOST}"}
			if len(pages) != 1 || !maps.Equal(pages[0], want) {
				t.Errorf("Service pages = %v; want one page %v", pages, want)
			}
			got, err := f.Globals(context.Background(), []string{"DB_HOST", "DB_PASSWORD", "MISSING"})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"DB_HOST": "db.internal", "DB_PASSWORD": canary}; !maps.Equal(reveal(got), want) {
				t.Errorf("Globals = %v; want %v", reveal(got), want)
			}
			calls := 0
			if err := f.Service(context.Background(), "nested", func(map[string]resolve.Value) { calls++ }); err != nil || calls != 0 {
				t.Errorf("Service(unknown) = %v with %d pages; want nil, 0", err, calls)
			}
		})
	}
}

func TestFilePrefix(t *testing.T) {
	f, err := OpenFile(writeStore(t, flatStore), "/other/")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	_ = f.Service(context.Background(), "svc", func(kv map[string]resolve.Value) { got = reveal(kv) })
	if want := map[string]string{"ELSEWHERE": "another prefix"}; !maps.Equal(got, want) {
		t.Errorf("Service under /other = %v; want %v", got, want)
	}
	globals, _ := f.Globals(context.Background(), []string{"DB_HOST"})
	if len(globals) != 0 {
		t.Errorf("Globals under /other = %v; want none", reveal(globals))
	}
}

func TestFileMalformed(t *testing.T) {
	tests := []struct {
		name, content string
		want          string // line and column, then the reason
	}{
		{"syntax", "{\n  \"/envinit/global/A\": \"" + canary + "\" x\n}", "line 2, column 50: malformed JSON"},
		{"bad literal", "{\n  \"/envinit/global/A\": tru" + canary + "\n}", "line 2, column 27: malformed JSON"},
		{"truncated", "{\n  \"/envinit/global/A\": \"" + canary, "the JSON ends early"},
		{"duplicate", "{\n  \"/envinit/global/A\": \"" + canary + "\",\n  \"/envinit/global/A\": \"x\"\n}", "line 3, column 3: a parameter name appears twice"},
		{"value not a string", "{\"/envinit/global/A\": 987654321}", "column 2: a parameter's value is not a string"},
		{"secret where a name belongs", "{\n  \"" + canary + "\": \"/envinit/global/A\"\n}", `line 2, column 3: a member name does not start with "/"`},
		{"not an object", "[\"" + canary + "\"]", "line 1, column 1: the top level is not a JSON object"},
		{"trailing data", "{}\n\"" + canary + "\"", "line 2, column 1: malformed JSON"},
		{"both shapes", `{"Parameters": [], "/envinit/global/A": "x"}`, `parameter names and a "Parameters" list`},
		{"list entry without value", "{\"Parameters\": [\n {\"Name\": \"/envinit/global/A\", \"Value\": \"x\"},\n {\"Name\": \"/envinit/global/B\"}]}", `line 3, column 2: Parameters[1] is not {"Name": string, "Value": string}`},
		{"list entry value not a string", `{"Parameters": [{"Name": "/envinit/global/A", "Value": 987654321}]}`, "Parameters[0] is not"},
		{"list name not a path", `{"Parameters": [{"Name": "` + canary + `", "Value": "x"}]}`, `Parameters[0]: "Name" does not start with "/"`},
		{"list duplicate", `{"Parameters": [{"Name": "/a", "Value": "x"}, {"Name": "/a", "Value": "y"}]}`, "Parameters[1] repeats an earlier name"},
		{"list not a list", `{"Parameters": {"Name": "/a"}}`, `"Parameters" is not a list`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeStore(t, tc.content)
			_, err := OpenFile(path, "")
			if !errors.Is(err, resolve.ErrData) {
				t.Fatalf("OpenFile = %v; want resolve.ErrData", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want the file and %q", err, tc.want)
			}
			noCanary(t, err)
			if strings.Contains(err.Error(), "987654321") {
				t.Errorf("error %q quotes the file", err)
			}
		})
	}
}

func TestFileUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.json")
	_, err := OpenFile(path, "")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenFile = %v; want ErrUnavailable wrapping os.ErrNotExist", err)
	}
	if strings.Count(err.Error(), path) != 1 {
		t.Errorf("error %q; want the path named once", err)
	}
}

func TestExampleStore(t *testing.T) {
	f, err := OpenFile("../../examples/store.json", "")
	if err != nil {
		t.Fatal(err)
	}
	keys := func(alias string) []string {
		var ks []string
		_ = f.Service(context.Background(), alias, func(kv map[string]resolve.Value) { ks = slices.AppendSeq(ks, maps.Keys(kv)) })
		slices.Sort(ks)
		return ks
	}
	if got, want := keys("demo"), []string{"DATABASE_URL", "DB_PASSWORD", "GREETING", "TEMPLATE_HINT", "__import_svc", "__sensitive"}; !slices.Equal(got, want) {
		t.Errorf("demo keys = %q; want %q", got, want)
	}
	if got, want := keys("shared"), []string{"FEATURE_FLAGS", "LOG_LEVEL"}; !slices.Equal(got, want) {
		t.Errorf("shared keys = %q; want %q", got, want)
	}
	if got, _ := f.Globals(context.Background(), []string{"DB_HOST", "DB_USER"}); len(got) != 2 {
		t.Errorf("globals = %v; want DB_HOST and DB_USER", reveal(got))
	}
}
