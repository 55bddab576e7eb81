package e2e

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The identities the envinit tools run as: their policies grant exactly
// the calls each makes, on the environment's parameters only. The
// operator's: every write reads the whole environment (DescribeParameters,
// GetParameters), then puts and deletes one parameter at a time
// (PutParameter, DeleteParameter); render and check read as a start does
// (GetParametersByPath, GetParameters). CI's: check, and fingerprint,
// which reads the whole environment.
var toolPolicies = []struct {
	file string
	// ssm and kms are the actions the policy must grant, no more: SSM's on
	// the prefix's parameters, KMS's on one key through SSM.
	ssm, kms []string
}{
	{"operator-policy.json",
		[]string{"ssm:DeleteParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:PutParameter"},
		[]string{"kms:Decrypt", "kms:Encrypt"}},
	{"ci-policy.json",
		[]string{"ssm:GetParameters", "ssm:GetParametersByPath"},
		[]string{"kms:Decrypt"}},
}

func TestIAMPoliciesOfTheTools(t *testing.T) {
	const prefix = "/envinit"
	for _, tp := range toolPolicies {
		t.Run(tp.file, func(t *testing.T) {
			path := filepath.Join("..", "examples", "iam", tp.file)
			p := readIAMPolicy(t, path)
			if p.Version != "2012-10-17" {
				t.Errorf("Version %q; want 2012-10-17", p.Version)
			}
			paramARN := regexp.MustCompile(`^arn:aws:ssm:([a-z0-9-]+):(\d{12}):parameter` + regexp.QuoteMeta(prefix) + `/\*$`)
			keyARN := regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):(\d{12}):key/[0-9a-f-]+$`)
			var ssmGot, kmsGot []string
			describe := false
			for _, st := range p.Statement {
				if st.Effect != "Allow" || len(st.Principal) > 0 {
					t.Errorf("statement %q: Effect %q, Principal %v; want Allow and no principal (an identity policy)", st.Sid, st.Effect, st.Principal)
				}
				for _, a := range st.Action {
					if strings.Contains(a, "*") {
						t.Errorf("statement %q allows %s; want named actions only", st.Sid, a)
					}
				}
				switch {
				case slices.Equal(st.Action, stringOrList{"ssm:DescribeParameters"}):
					// IAM authorizes DescribeParameters on no narrower
					// resource; it returns names and versions, no value.
					describe = true
					if !slices.Equal(st.Resource, stringOrList{"*"}) || len(st.Condition) > 0 {
						t.Errorf("statement %q: Resource %q; want \"*\" alone", st.Sid, st.Resource)
					}
				case allPrefixed(st.Action, "ssm:"):
					ssmGot = append(ssmGot, st.Action...)
					if len(st.Resource) != 1 || !paramARN.MatchString(st.Resource[0]) {
						t.Errorf("statement %q: Resource %q; want the parameters under %s/", st.Sid, st.Resource, prefix)
					}
					if slices.Contains(st.Action, "ssm:DescribeParameters") {
						t.Errorf("statement %q: ssm:DescribeParameters beside other actions; want it in a statement of its own", st.Sid)
					}
				case allPrefixed(st.Action, "kms:"):
					kmsGot = append(kmsGot, st.Action...)
					if len(st.Resource) != 1 || !keyARN.MatchString(st.Resource[0]) {
						t.Errorf("statement %q: Resource %q; want one key ARN", st.Sid, st.Resource)
					}
					if !conditionHas(st, "StringEquals", "kms:ViaService", ssmService(st.Resource)) {
						t.Errorf("statement %q: want Condition StringEquals kms:ViaService %s", st.Sid, ssmService(st.Resource))
					}
				default:
					t.Errorf("statement %q mixes services or allows another: %q", st.Sid, st.Action)
				}
			}
			slices.Sort(ssmGot)
			slices.Sort(kmsGot)
			if !describe {
				t.Error("no ssm:DescribeParameters: the tools list the environment with it")
			}
			if !slices.Equal(ssmGot, tp.ssm) {
				t.Errorf("SSM actions %q; want exactly %q", ssmGot, tp.ssm)
			}
			if !slices.Equal(kmsGot, tp.kms) {
				t.Errorf("KMS actions %q; want exactly %q", kmsGot, tp.kms)
			}
		})
	}
}

func allPrefixed(actions []string, prefix string) bool {
	for _, a := range actions {
		if !strings.HasPrefix(a, prefix) {
			return false
		}
	}
	return len(actions) > 0
}
