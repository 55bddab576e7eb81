package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const ecsExamplesDir = "../examples/ecs"

// loadECSTaskDefinition decodes the example as the input of
// `aws ecs register-task-definition --cli-input-json`: the SDK's
// RegisterTaskDefinitionInput, an unknown field rejected. (encoding/json
// matches the API's camelCase names to the SDK's field names.)
func loadECSTaskDefinition(t *testing.T) (*ecs.RegisterTaskDefinitionInput, ecstypes.ContainerDefinition) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(ecsExamplesDir, "task-definition.json"))
	if err != nil {
		t.Fatal(err)
	}
	var td ecs.RegisterTaskDefinitionInput
	if err := jsonUnmarshalStrict(src, &td); err != nil {
		t.Fatalf("task-definition.json: %v", err)
	}
	if len(td.ContainerDefinitions) != 1 {
		t.Fatalf("task-definition.json: %d containers; want 1", len(td.ContainerDefinitions))
	}
	return &td, td.ContainerDefinitions[0]
}

func ecsEnv(c ecstypes.ContainerDefinition, name string) (string, bool) {
	for _, kv := range c.Environment {
		if kv.Name != nil && *kv.Name == name && kv.Value != nil {
			return *kv.Value, true
		}
	}
	return "", false
}

func TestDockerECSExamples(t *testing.T) {
	td, c := loadECSTaskDefinition(t)
	if td.Family == nil || *td.Family == "" {
		t.Errorf("no family")
	}
	if td.TaskRoleArn == nil || !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/`).MatchString(*td.TaskRoleArn) {
		t.Errorf("taskRoleArn: want the role envinit reads SSM with")
	}
	if !slices.Equal(c.EntryPoint, []string{"/envinit", "--"}) || len(c.Command) == 0 {
		t.Errorf("container %s: entryPoint %q command %q; want [/envinit --] and the app's command", deref(c.Name), c.EntryPoint, c.Command)
	}
	for _, name := range []string{"ENVINIT_SERVICE", "ENVINIT_PREFIX"} {
		if v, ok := ecsEnv(c, name); !ok || v == "" {
			t.Errorf("container %s: %s not set", deref(c.Name), name)
		}
	}
	dir := "/run/secrets"
	if v, ok := ecsEnv(c, "ENVINIT_SECRETS_DIR"); ok {
		dir = v
	}
	var tmpfs *ecstypes.Tmpfs
	if c.LinuxParameters != nil {
		for i, m := range c.LinuxParameters.Tmpfs {
			if deref(m.ContainerPath) == dir {
				tmpfs = &c.LinuxParameters.Tmpfs[i]
			}
		}
	}
	if tmpfs == nil || tmpfs.Size <= 0 {
		t.Errorf("container %s: want linuxParameters.tmpfs at %s with a size", deref(c.Name), dir)
	}
	if c.ReadonlyRootFilesystem == nil || !*c.ReadonlyRootFilesystem {
		t.Errorf("container %s: want readonlyRootFilesystem", deref(c.Name))
	}
	if u := deref(c.User); u == "" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root") {
		t.Errorf("container %s: user %q; want a non-root uid:gid", deref(c.Name), u)
	}

	prefix, _ := ecsEnv(c, "ENVINIT_PREFIX")
	checkIAMPolicy(t, filepath.Join(ecsExamplesDir, "iam-policy.json"), prefix)
	trust := readIAMPolicy(t, filepath.Join(ecsExamplesDir, "trust-policy.json"))
	if st := trust.Statement; len(st) != 1 || !slices.Equal(st[0].Principal["Service"], stringOrList{"ecs-tasks.amazonaws.com"}) ||
		!slices.Equal(st[0].Action, stringOrList{"sts:AssumeRole"}) {
		t.Errorf("trust-policy.json: want ecs-tasks.amazonaws.com allowed sts:AssumeRole")
	}

	// EKS and ECS need the same permissions: one policy, two copies.
	ecsPolicy, err := os.ReadFile(filepath.Join(ecsExamplesDir, "iam-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	k8sPolicy, err := os.ReadFile(filepath.Join(k8sExamplesDir, "iam-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ecsPolicy, k8sPolicy) {
		t.Errorf("examples/ecs/iam-policy.json and examples/kubernetes/iam-policy.json differ; want the same policy")
	}
}

// checkIAMPolicy checks the permissions policy envinit's role needs for
// ENVINIT_PREFIX prefix (the README's Security and cost): GetParametersByPath (a service's path)
// and GetParameters (globals, by name) on the environment's parameters,
// nothing wider, and kms:Decrypt on the key only when SSM asks for it.
func checkIAMPolicy(t *testing.T, path, prefix string) {
	t.Helper()
	p := readIAMPolicy(t, path)
	if p.Version != "2012-10-17" {
		t.Errorf("%s: Version %q; want 2012-10-17", path, p.Version)
	}
	var ssmOK, kmsOK bool
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			t.Errorf("%s: statement %q: Effect %q; want Allow", path, st.Sid, st.Effect)
		}
		for _, action := range st.Action {
			switch {
			case action == "ssm:GetParametersByPath" || action == "ssm:GetParameters" || action == "kms:Decrypt":
			default:
				t.Errorf("%s: statement %q allows %s; envinit calls only ssm:GetParametersByPath, ssm:GetParameters and (through SSM) kms:Decrypt", path, st.Sid, action)
			}
		}
		switch {
		case slices.Contains(st.Action, "ssm:GetParametersByPath"):
			ssmOK = slices.Contains(st.Action, "ssm:GetParameters")
			want := regexp.MustCompile(`^arn:aws:ssm:[a-z0-9-]+:\d{12}:parameter` + regexp.QuoteMeta(strings.TrimSuffix(prefix, "/")) + `/\*$`)
			if len(st.Resource) != 1 || !want.MatchString(st.Resource[0]) {
				t.Errorf("%s: statement %q: Resource %q; want the parameters under ENVINIT_PREFIX %s", path, st.Sid, st.Resource, prefix)
			}
		case slices.Contains(st.Action, "kms:Decrypt"):
			kmsOK = true
			if len(st.Resource) != 1 || !regexp.MustCompile(`^arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$`).MatchString(st.Resource[0]) {
				t.Errorf("%s: statement %q: Resource %q; want one key ARN", path, st.Sid, st.Resource)
			}
			if !conditionHas(st, "StringEquals", "kms:ViaService", ssmService(st.Resource)) {
				t.Errorf("%s: statement %q: want Condition StringEquals kms:ViaService %s", path, st.Sid, ssmService(st.Resource))
			}
		}
	}
	if !ssmOK || !kmsOK {
		t.Errorf("%s: want ssm:GetParametersByPath and ssm:GetParameters, and kms:Decrypt (ssm %v, kms %v)", path, ssmOK, kmsOK)
	}
}

// ssmService is SSM's service name in the region of a key ARN.
func ssmService(keyARN []string) string {
	if len(keyARN) != 1 {
		return "ssm.REGION.amazonaws.com"
	}
	parts := strings.Split(keyARN[0], ":")
	if len(parts) < 4 {
		return "ssm.REGION.amazonaws.com"
	}
	return "ssm." + parts[3] + ".amazonaws.com"
}

func readIAMPolicy(t *testing.T, path string) iamPolicy {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p iamPolicy
	if err := jsonUnmarshalStrict(src, &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// jsonUnmarshalStrict is json.Unmarshal refusing unknown fields and
// trailing data.
func jsonUnmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// testDockerECSTask runs the example task definition's container the way
// the ECS agent would with docker: its entryPoint, user, read-only root,
// tmpfs and environment, with the probe as the app.
func testDockerECSTask(t *testing.T, imgs dockerImages) {
	_, c := loadECSTaskDefinition(t)
	service, _ := ecsEnv(c, "ENVINIT_SERVICE")
	f := newDockerFixtureFor(t, service)
	args := []string{"run", "--name", containerName(t), "--label", dockerTestID, "--network", "host"}
	if deref(c.User) != "" {
		args = append(args, "--user", deref(c.User))
	}
	if c.ReadonlyRootFilesystem != nil && *c.ReadonlyRootFilesystem {
		args = append(args, "--read-only")
	}
	for _, m := range c.LinuxParameters.Tmpfs {
		opts := append(slices.Clone(m.MountOptions), fmt.Sprintf("size=%dm", m.Size))
		args = append(args, "--tmpfs", deref(m.ContainerPath)+":"+strings.Join(opts, ","))
	}
	env := map[string]string{}
	for _, kv := range c.Environment {
		env[deref(kv.Name)] = deref(kv.Value)
	}
	for k, v := range f.env {
		env[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		args = append(args, "-e", k+"="+env[k])
	}
	args = append(args, "--entrypoint", c.EntryPoint[0], imgs.app)
	args = append(append(args, c.EntryPoint[1:]...), "/probe", "report")
	r := docker(t, runTimeout, args...)

	uid, gid := 0, 0
	if _, err := fmt.Sscanf(deref(c.User), "%d:%d", &uid, &gid); err != nil {
		t.Fatalf("user %q: want uid:gid", deref(c.User))
	}
	dir := "/run/secrets"
	if v, ok := ecsEnv(c, "ENVINIT_SECRETS_DIR"); ok {
		dir = v
	}
	f.assertReport(t, r, dir, uid, gid)
}
