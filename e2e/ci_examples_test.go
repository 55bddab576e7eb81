package e2e

// The CI examples in examples/ci: the GitHub Actions workflow passes
// actionlint (and shellcheck on its scripts, where installed), the GitLab
// job decodes strictly into the keywords GitLab knows, and both run the
// same commands with the same least-privilege credentials: an OIDC role
// that trusts only the example repository and holds examples/iam's CI
// policy, no stored keys.

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

// ciExample is what both CI examples must do, whatever the CI system.
var ciExample = struct {
	check, fingerprint string // the commands, each on a line of its own
	fingerprintFile    string // what the fingerprint command writes, and the job publishes
	role               string // the role the job assumes
	prefix, region     string // ENVINIT_PREFIX and AWS_REGION, which ci-policy.json must cover
}{
	check:           "envinit check --all",
	fingerprint:     "envinit fingerprint --all --format json > envinit-fingerprints.json",
	fingerprintFile: "envinit-fingerprints.json",
	role:            "arn:aws:iam::111122223333:role/envinit-ci",
	prefix:          "/envinit",
	region:          "us-east-1",
}

func TestCIExampleGitHubActions(t *testing.T) {
	t.Parallel()
	const path = "../examples/ci/github-actions.yml"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Logf("no shellcheck: actionlint does not check the workflow's run: scripts (apt-get install shellcheck)")
	}
	var out strings.Builder
	linter, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if errs, err := linter.Lint(path, src, nil); err != nil || len(errs) > 0 {
		t.Errorf("actionlint %s: %v, %d problems:\n%s", path, err, len(errs), out.String())
	}

	w, errs := actionlint.Parse(src)
	if len(errs) > 0 || w == nil {
		t.Fatalf("%s: %v", path, errs)
	}
	if w.Permissions == nil || w.Permissions.All != nil || len(w.Permissions.Scopes) != 0 {
		t.Errorf("workflow permissions: want none (`permissions: {}`), each job granting its own")
	}
	env := map[string]string{}
	if w.Env != nil {
		for _, v := range w.Env.Vars {
			env[v.Name.Value] = v.Value.Value
		}
	}
	if env["ENVINIT_PREFIX"] != ciExample.prefix || env["AWS_REGION"] != ciExample.region {
		t.Errorf("workflow env: ENVINIT_PREFIX %q, AWS_REGION %q; want %q, %q", env["ENVINIT_PREFIX"], env["AWS_REGION"], ciExample.prefix, ciExample.region)
	}

	job := w.Jobs["check"]
	if job == nil {
		t.Fatalf("%s: no job check", path)
	}
	perms := map[string]string{}
	if job.Permissions != nil {
		for name, s := range job.Permissions.Scopes {
			perms[name] = s.Value.Value
		}
	}
	if want := map[string]string{"contents": "read", "id-token": "write"}; !maps.Equal(perms, want) {
		t.Errorf("job permissions: got %v; want exactly %v", perms, want)
	}

	var runs []string
	var role, artifact string
	for _, step := range job.Steps {
		switch e := step.Exec.(type) {
		case *actionlint.ExecRun:
			runs = append(runs, strings.Split(strings.TrimSpace(e.Run.Value), "\n")...)
		case *actionlint.ExecAction:
			inputs := map[string]string{}
			for name, in := range e.Inputs {
				inputs[name] = in.Value.Value
			}
			for name := range inputs {
				if strings.Contains(name, "access-key") || strings.Contains(name, "session-token") {
					t.Errorf("step %q: input %s; want no stored AWS key (the role is assumed with OIDC)", e.Uses.Value, name)
				}
			}
			switch uses := e.Uses.Value; {
			case strings.HasPrefix(uses, "aws-actions/configure-aws-credentials@"):
				role = inputs["role-to-assume"]
			case strings.HasPrefix(uses, "actions/upload-artifact@"):
				artifact = inputs["path"]
			}
		}
	}
	checkCIScript(t, path, runs)
	if role != ciExample.role {
		t.Errorf("role-to-assume: got %q; want %q", role, ciExample.role)
	}
	if artifact != ciExample.fingerprintFile {
		t.Errorf("upload-artifact path: got %q; want %q, the fingerprints", artifact, ciExample.fingerprintFile)
	}
	checkCIPolicy(t)
	checkTrustPolicy(t, "../examples/ci/trust-policy-github.json", "token.actions.githubusercontent.com",
		regexp.MustCompile(`^repo:[\w.-]+/[\w.-]+:`))
}

// gitlabJob is a GitLab CI job with the keywords GitLab documents for one;
// an unknown key (a typo such as `scripts:`) fails the strict decoding.
type gitlabJob struct {
	Stage         string
	Image         json.RawMessage
	Services      json.RawMessage
	Timeout       string
	Tags          []string
	Needs         json.RawMessage
	Dependencies  []string
	Extends       json.RawMessage
	Interruptible *bool
	Retry         json.RawMessage
	AllowFailure  json.RawMessage `json:"allow_failure"`
	When          string
	Environment   json.RawMessage
	ResourceGroup string `json:"resource_group"`
	Cache         json.RawMessage
	Parallel      json.RawMessage
	Coverage      string
	Secrets       json.RawMessage
	Variables     map[string]string
	IDTokens      map[string]struct{ Aud stringOrList } `json:"id_tokens"`
	Rules         []struct {
		If           string
		When         string
		Changes      json.RawMessage
		Exists       json.RawMessage
		AllowFailure *bool `json:"allow_failure"`
		Variables    map[string]string
	}
	BeforeScript []string `json:"before_script"`
	Script       []string
	AfterScript  []string `json:"after_script"`
	Artifacts    *struct {
		Name, When        string
		ExpireIn          string `json:"expire_in"`
		Paths, Exclude    []string
		Untracked, Public *bool
		ExposeAs          string `json:"expose_as"`
		Reports           map[string]json.RawMessage
	}
}

// gitlabKeywords are the global keywords of a .gitlab-ci.yml; every other
// top-level key is a job.
var gitlabKeywords = []string{"default", "include", "stages", "variables", "workflow"}

func TestCIExampleGitLab(t *testing.T) {
	t.Parallel()
	const path = "../examples/ci/gitlab-ci.yml"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := yaml.YAMLToJSON(src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var top map[string]json.RawMessage
	if err := jsonUnmarshalStrict(doc, &top); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var stages []string
	if err := jsonUnmarshalStrict(top["stages"], &stages); err != nil {
		t.Fatalf("%s: stages: %v", path, err)
	}
	jobs := map[string]gitlabJob{}
	for name, raw := range top {
		if slices.Contains(gitlabKeywords, name) {
			continue
		}
		var job gitlabJob
		if err := jsonUnmarshalStrict(raw, &job); err != nil {
			t.Errorf("%s: job %s: %v", path, name, err)
			continue
		}
		if !slices.Contains(stages, job.Stage) {
			t.Errorf("%s: job %s: stage %q is not in stages %q", path, name, job.Stage, stages)
		}
		if len(job.Script) == 0 {
			t.Errorf("%s: job %s: no script", path, name)
		}
		jobs[name] = job
	}
	job, ok := jobs["envinit-check"]
	if !ok {
		t.Fatalf("%s: no job envinit-check (jobs: %v)", path, slices.Sorted(maps.Keys(jobs)))
	}

	checkCIScript(t, path, job.Script)
	v := job.Variables
	if v["ENVINIT_PREFIX"] != ciExample.prefix || v["AWS_REGION"] != ciExample.region || v["AWS_ROLE_ARN"] != ciExample.role {
		t.Errorf("variables: ENVINIT_PREFIX %q, AWS_REGION %q, AWS_ROLE_ARN %q; want %q, %q, %q",
			v["ENVINIT_PREFIX"], v["AWS_REGION"], v["AWS_ROLE_ARN"], ciExample.prefix, ciExample.region, ciExample.role)
	}
	for name := range v {
		if strings.HasPrefix(name, "AWS_ACCESS_KEY") || strings.HasPrefix(name, "AWS_SECRET") || name == "AWS_SESSION_TOKEN" {
			t.Errorf("variables: %s; want no stored AWS key (the role is assumed with OIDC)", name)
		}
	}
	// The SDK's web identity provider reads the token from the file the
	// script writes it to.
	token, ok := job.IDTokens["AWS_ID_TOKEN"]
	if !ok || !slices.Equal(token.Aud, stringOrList{"sts.amazonaws.com"}) {
		t.Errorf("id_tokens: %v; want AWS_ID_TOKEN for the audience sts.amazonaws.com", job.IDTokens)
	}
	for _, want := range []string{`export AWS_WEB_IDENTITY_TOKEN_FILE="$(mktemp)"`, `printf '%s' "$AWS_ID_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE"`} {
		if !slices.Contains(job.Script, want) {
			t.Errorf("script: no line %q", want)
		}
	}
	if job.Artifacts == nil || !slices.Equal(job.Artifacts.Paths, []string{ciExample.fingerprintFile}) {
		t.Errorf("artifacts: %+v; want paths [%s], the fingerprints", job.Artifacts, ciExample.fingerprintFile)
	}
	checkCIPolicy(t)
	checkTrustPolicy(t, "../examples/ci/trust-policy-gitlab.json", "gitlab.com",
		regexp.MustCompile(`^project_path:[\w.-]+/[\w.-]+:`))
}

// checkCIScript: the script installs envinit only after checking it
// against the release's SHA256SUMS, then runs the check and the
// fingerprint, each alone on its line, so that a failure fails the job.
func checkCIScript(t *testing.T, path string, lines []string) {
	t.Helper()
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	verify := slices.Index(lines, `grep ' envinit-linux-amd64$' SHA256SUMS | sha256sum -c -`)
	install := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "install -m 0755 envinit-linux-amd64 ") })
	if verify < 0 || install < 0 || install < verify {
		t.Errorf("%s: the script installs envinit at line %d and checks its sha256 at line %d; want the check first", path, install, verify)
	}
	check, fingerprint := slices.Index(lines, ciExample.check), slices.Index(lines, ciExample.fingerprint)
	if check < 0 || fingerprint < 0 {
		t.Errorf("%s: want the lines %q and %q in the script: %q", path, ciExample.check, ciExample.fingerprint, lines)
	}
}

// checkCIPolicy: ci-policy.json, the CI role's permissions, covers the
// examples' prefix in their region.
func checkCIPolicy(t *testing.T) {
	t.Helper()
	p := readIAMPolicy(t, "../examples/iam/ci-policy.json")
	want := fmt.Sprintf("arn:aws:ssm:%s:111122223333:parameter%s/*", ciExample.region, ciExample.prefix)
	for _, st := range p.Statement {
		if slices.Contains(st.Action, "ssm:GetParametersByPath") && slices.Equal(st.Resource, stringOrList{want}) {
			return
		}
	}
	t.Errorf("examples/iam/ci-policy.json: no ssm:GetParametersByPath on %s, the examples' prefix", want)
}

// checkTrustPolicy: the CI role trusts exactly one OIDC provider, for STS
// as the audience, and only tokens whose subject names one repository.
func checkTrustPolicy(t *testing.T, path, provider string, subject *regexp.Regexp) {
	t.Helper()
	p := readIAMPolicy(t, path)
	if p.Version != "2012-10-17" || len(p.Statement) != 1 {
		t.Fatalf("%s: Version %q, %d statements; want 2012-10-17 and one", path, p.Version, len(p.Statement))
	}
	st := p.Statement[0]
	account := strings.Split(ciExample.role, ":")[4]
	if st.Effect != "Allow" || !slices.Equal(st.Action, stringOrList{"sts:AssumeRoleWithWebIdentity"}) {
		t.Errorf("%s: %s %q; want Allow sts:AssumeRoleWithWebIdentity only", path, st.Effect, st.Action)
	}
	wantPrincipal := map[string]stringOrList{"Federated": {"arn:aws:iam::" + account + ":oidc-provider/" + provider}}
	if len(st.Principal) != 1 || !slices.Equal(st.Principal["Federated"], wantPrincipal["Federated"]) {
		t.Errorf("%s: Principal %v; want %v", path, st.Principal, wantPrincipal)
	}
	if !slices.Equal(st.Condition["StringEquals"][provider+":aud"], stringOrList{"sts.amazonaws.com"}) {
		t.Errorf("%s: want Condition StringEquals %s:aud sts.amazonaws.com", path, provider)
	}
	subs := append(slices.Clone(st.Condition["StringEquals"][provider+":sub"]), st.Condition["StringLike"][provider+":sub"]...)
	if len(subs) == 0 {
		t.Errorf("%s: no condition on %s:sub: any repository on %s could assume the role", path, provider, provider)
	}
	for _, s := range subs {
		if !subject.MatchString(s) {
			t.Errorf("%s: %s:sub %q; want it to name one repository (%s)", path, provider, s, subject)
		}
	}
}

// The examples name files that exist.
func TestCIExamplesFiles(t *testing.T) {
	for _, f := range []string{"github-actions.yml", "gitlab-ci.yml", "trust-policy-github.json", "trust-policy-gitlab.json", "README.md"} {
		if _, err := os.Stat(filepath.Join("../examples/ci", f)); err != nil {
			t.Error(err)
		}
	}
}
