package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const k8sExamplesDir = "../examples/kubernetes"

// k8sExamples are the objects of examples/kubernetes/*.yaml.
type k8sExamples struct {
	deployment     *appsv1.Deployment
	serviceAccount *corev1.ServiceAccount
}

// loadK8sExamples decodes every YAML document of the examples strictly
// into its typed Kubernetes object: an unknown or duplicated field, a
// wrong type or a bad quantity fails the test, as the API server would
// reject the manifest.
func loadK8sExamples(t *testing.T) k8sExamples {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sExamplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", k8sExamplesDir, err)
	}
	var ex k8sExamples
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(src), -1) {
			var head metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s, document %d: %v", file, i+1, err)
			}
			if head.Kind == "" {
				if strings.TrimSpace(stripYAMLComments(doc)) != "" {
					t.Errorf("%s, document %d: no kind", file, i+1)
				}
				continue
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				if ex.deployment != nil {
					t.Fatalf("%s: a second Deployment; the tests expect one", file)
				}
				ex.deployment = new(appsv1.Deployment)
				obj = ex.deployment
			case "v1 ServiceAccount":
				ex.serviceAccount = new(corev1.ServiceAccount)
				obj = ex.serviceAccount
			default:
				t.Fatalf("%s, document %d: %s %s: a kind this test does not decode; teach it", file, i+1, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s, document %d (%s): %v", file, i+1, head.Kind, err)
			}
		}
	}
	if ex.deployment == nil || ex.serviceAccount == nil {
		t.Fatalf("%s: want a Deployment and a ServiceAccount", k8sExamplesDir)
	}
	return ex
}

func stripYAMLComments(doc string) string {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")
}

// podWiring is how the example pod runs envinit.
type podWiring struct {
	install    corev1.Container // the init container running `envinit install DIR`
	app        corev1.Container // the container whose command runs DIR/envinit -- ...
	binVolume  string           // the volume the binary travels in
	secretsDir string           // ENVINIT_SECRETS_DIR, or its default
	secretsVol string           // the volume mounted there
}

// wiring finds the init-container pattern in a pod spec, failing the test
// where the pieces do not fit together.
func wiring(t *testing.T, pod corev1.PodSpec) podWiring {
	t.Helper()
	var w podWiring
	if len(pod.InitContainers) != 1 || len(pod.Containers) != 1 {
		t.Fatalf("pod: %d init containers and %d containers; want 1 and 1", len(pod.InitContainers), len(pod.Containers))
	}
	w.install, w.app = pod.InitContainers[0], pod.Containers[0]

	if len(w.install.Command) != 0 || len(w.install.Args) != 2 || w.install.Args[0] != "install" {
		t.Fatalf("init container %s: command %q args %q; want the image's ENTRYPOINT with args [install DIR]", w.install.Name, w.install.Command, w.install.Args)
	}
	installDir := w.install.Args[1]
	w.binVolume = volumeAt(w.install, installDir)
	if w.binVolume == "" {
		t.Fatalf("init container %s installs into %s, where no volume is mounted", w.install.Name, installDir)
	}

	appDir, readOnly := mountOf(w.app, w.binVolume)
	if appDir == "" {
		t.Fatalf("container %s does not mount volume %q, where envinit is installed", w.app.Name, w.binVolume)
	}
	if !readOnly {
		t.Errorf("container %s mounts volume %q read-write; want readOnly: the app has no business changing envinit", w.app.Name, w.binVolume)
	}
	cmd := w.app.Command
	if len(cmd) < 3 || cmd[0] != appDir+"/envinit" || cmd[1] != "--" {
		t.Errorf("container %s: command %q; want [%s/envinit -- APP ...]", w.app.Name, cmd, appDir)
	}

	w.secretsDir = "/run/secrets"
	if v, ok := envOf(w.app, "ENVINIT_SECRETS_DIR"); ok {
		w.secretsDir = v
	}
	w.secretsVol = volumeAt(w.app, w.secretsDir)
	if w.secretsVol == "" {
		t.Fatalf("container %s: no volume mounted at the secrets directory %s", w.app.Name, w.secretsDir)
	}
	for _, v := range pod.Volumes {
		switch v.Name {
		case w.secretsVol:
			if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
				t.Errorf("volume %q at %s: want emptyDir with medium: Memory (tmpfs), so secrets never reach the node's disk", v.Name, w.secretsDir)
			}
		case w.binVolume:
			if v.EmptyDir == nil {
				t.Errorf("volume %q: want an emptyDir", v.Name)
			}
		}
	}
	return w
}

// volumeAt names the volume c mounts at path, or "".
func volumeAt(c corev1.Container, path string) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m.Name
		}
	}
	return ""
}

// mountOf tells where and how c mounts the volume.
func mountOf(c corev1.Container, volume string) (path string, readOnly bool) {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath, m.ReadOnly
		}
	}
	return "", false
}

func envOf(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func TestDockerKubernetesManifests(t *testing.T) {
	ex := loadK8sExamples(t)
	sa, dep := ex.serviceAccount, ex.deployment
	pod := dep.Spec.Template.Spec

	roleARN := sa.Annotations["eks.amazonaws.com/role-arn"]
	if !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$`).MatchString(roleARN) {
		t.Errorf("ServiceAccount %s: IRSA annotation eks.amazonaws.com/role-arn %q; want a role ARN", sa.Name, roleARN)
	}
	if pod.ServiceAccountName != sa.Name || dep.Namespace != sa.Namespace {
		t.Errorf("pod runs as service account %s/%s; want %s/%s", dep.Namespace, pod.ServiceAccountName, sa.Namespace, sa.Name)
	}
	if dep.Spec.Selector == nil {
		t.Fatalf("Deployment %s: no selector", dep.Name)
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("Deployment %s: selector %s=%s does not match the pod template's labels", dep.Name, k, v)
		}
	}

	w := wiring(t, pod)
	for _, name := range []string{"ENVINIT_SERVICE", "ENVINIT_PREFIX"} {
		if v, ok := envOf(w.app, name); !ok || v == "" {
			t.Errorf("container %s: %s not set", w.app.Name, name)
		}
	}
	if v, _ := envOf(w.app, "ENVINIT_SERVICE"); !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`).MatchString(v) {
		t.Errorf("ENVINIT_SERVICE %q: not a service alias", v)
	}
	if !strings.Contains(w.install.Image, "envinit") {
		t.Errorf("init container image %q; want the envinit image", w.install.Image)
	}

	// Hardened like the pods that Pod Security "restricted" admits.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext: want runAsNonRoot and a non-zero runAsUser")
	}
	for _, c := range []corev1.Container{w.install, w.app} {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("container %s: no securityContext", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: want readOnlyRootFilesystem", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: want allowPrivilegeEscalation: false", c.Name)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
			t.Errorf("container %s: want capabilities drop ALL", c.Name)
		}
	}

	// The role's policy grants exactly the environment the pod reads.
	prefix, _ := envOf(w.app, "ENVINIT_PREFIX")
	checkIAMPolicy(t, filepath.Join(k8sExamplesDir, "iam-policy.json"), prefix)
	irsa := readIAMPolicy(t, filepath.Join(k8sExamplesDir, "trust-policy-irsa.json"))
	wantSub := "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
	if st := irsa.Statement; len(st) != 1 || !slices.Equal(st[0].Action, stringOrList{"sts:AssumeRoleWithWebIdentity"}) || !conditionHas(st[0], "StringEquals", ":sub", wantSub) {
		t.Errorf("trust-policy-irsa.json: want sts:AssumeRoleWithWebIdentity for %s", wantSub)
	}
	podID := readIAMPolicy(t, filepath.Join(k8sExamplesDir, "trust-policy-pod-identity.json"))
	if st := podID.Statement; len(st) != 1 || !slices.Equal(st[0].Principal["Service"], stringOrList{"pods.eks.amazonaws.com"}) ||
		!slices.Equal(st[0].Action, stringOrList{"sts:AssumeRole", "sts:TagSession"}) {
		t.Errorf("trust-policy-pod-identity.json: want pods.eks.amazonaws.com allowed sts:AssumeRole and sts:TagSession")
	}
}

// testDockerKubernetesPod runs the example Deployment's pod spec as docker
// containers: its init container from the envinit image, then its app
// container from an image with no envinit inside, with the command, user,
// read-only root, capabilities and volumes the manifest gives them. The
// app is the probe instead of the manifest's APP after "--".
//
// The volumes are made the way the kubelet makes emptyDirs: a disk one is
// a directory of mode 0777; a Memory one is a tmpfs mounted with no mode
// option, so its root is 1777 (sticky). The Memory volume is held mounted
// by a sleeping container, as the pod sandbox holds it, so it outlives the
// app container: the second run is a container restart in the same pod.
func testDockerKubernetesPod(t *testing.T, imgs dockerImages) {
	pod := loadK8sExamples(t).deployment.Spec.Template.Spec
	w := wiring(t, pod)
	service, _ := envOf(w.app, "ENVINIT_SERVICE")
	f := newDockerFixtureFor(t, service)

	mounts := map[string]string{}
	var holder []string
	for _, v := range pod.Volumes {
		switch {
		case v.EmptyDir == nil:
			t.Fatalf("volume %q: the simulation knows only emptyDir", v.Name)
		case v.EmptyDir.Medium == corev1.StorageMediumMemory:
			name := dockerTestID + "-" + v.Name + "-" + randHex(2)
			args := []string{"volume", "create", "--label", dockerTestID, "--opt", "type=tmpfs", "--opt", "device=tmpfs"}
			if v.EmptyDir.SizeLimit != nil {
				args = append(args, "--opt", fmt.Sprintf("o=size=%d", v.EmptyDir.SizeLimit.Value()))
			}
			mustDocker(t, append(args, name)...)
			t.Cleanup(func() { dockerQuiet("volume", "rm", "--force", name) })
			mounts[v.Name] = "type=volume,src=" + name
			holder = append(holder, "--mount", mounts[v.Name]+",dst=/"+v.Name)
		default:
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			mounts[v.Name] = "type=bind,src=" + dir
		}
	}
	sandbox := containerName(t)
	mustDocker(t, append(append([]string{"run", "-d", "--name", sandbox, "--label", dockerTestID}, holder...), imgs.probe, "/probe", "sleep")...)

	// The init container: the envinit image's ENTRYPOINT with the
	// manifest's args.
	args := append([]string{"run", "--name", containerName(t), "--label", dockerTestID}, containerArgs(t, pod, w.install, mounts, nil)...)
	r := docker(t, runTimeout, append(append(args, imgs.final), w.install.Args...)...)
	if r.Code != 0 {
		t.Fatalf("init container %s: exit %d\nstdout: %s\nstderr: %s", w.install.Name, r.Code, r.Stdout, r.Stderr)
	}

	psc := pod.SecurityContext
	if psc == nil || psc.RunAsUser == nil || psc.RunAsGroup == nil {
		t.Fatalf("pod securityContext: want runAsUser and runAsGroup, whom the files must belong to")
	}
	uid, gid := int(*psc.RunAsUser), int(*psc.RunAsGroup)
	i := slices.Index(w.app.Command, "--")
	if i < 0 {
		t.Fatalf("container %s: no -- in command %q", w.app.Name, w.app.Command)
	}
	command := append(slices.Clone(w.app.Command[:i+1]), "/probe", "report")
	runApp := func() {
		t.Helper()
		// The manifest's command replaces the image's ENTRYPOINT, as
		// --entrypoint does (and it drops the image's CMD too).
		args := append([]string{"run", "--name", containerName(t), "--label", dockerTestID, "--network", "host"}, containerArgs(t, pod, w.app, mounts, f.env)...)
		args = append(append(args, "--entrypoint", command[0], imgs.probe), command[1:]...)
		t.Logf("docker %s", strings.Join(args, " "))
		f.assertReport(t, docker(t, runTimeout, args...), w.secretsDir, uid, gid)
	}
	runApp()
	if t.Failed() {
		return
	}

	// A container restart: the Memory emptyDir still holds the files of
	// the run before, which the next run must replace.
	held := "/" + w.secretsVol + "/API_KEY"
	r = docker(t, dockerTimeout, "exec", "-e", "HELD_FILE="+held, sandbox, "/probe", "report")
	if r.Code != 0 {
		t.Fatalf("docker exec %s: exit %d: %s", sandbox, r.Code, r.Stderr)
	}
	if got := parseProbe(t, r.Stdout).Files[held]; got.Type != "file" || got.Content != f.secrets["API_KEY"] {
		t.Fatalf("%s after the app container exited: type %q, error %q, content %d bytes; want the file of that run, still there", held, got.Type, got.Error, len(got.Content))
	}
	f.rotate(t, "API_KEY")
	runApp()
}

// containerArgs translates a container of the pod into docker run options:
// user and group, read-only root, no-new-privileges, dropped capabilities,
// volume mounts and env; env overrides the manifest's values (the test's
// prefix and emulator). The caller adds the image, command and args.
func containerArgs(t *testing.T, pod corev1.PodSpec, c corev1.Container, mounts map[string]string, env map[string]string) []string {
	t.Helper()
	var flags []string
	var uid, gid *int64
	if psc := pod.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
	}
	sc := c.SecurityContext
	if sc != nil && sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if sc != nil && sc.RunAsGroup != nil {
		gid = sc.RunAsGroup
	}
	if uid != nil && gid != nil {
		flags = append(flags, "--user", fmt.Sprintf("%d:%d", *uid, *gid))
	} else if uid != nil {
		flags = append(flags, "--user", fmt.Sprint(*uid))
	}
	if sc != nil {
		if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
			flags = append(flags, "--read-only")
		}
		if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			flags = append(flags, "--security-opt", "no-new-privileges")
		}
		if sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") {
			flags = append(flags, "--cap-drop", "ALL")
		}
	}
	for _, m := range c.VolumeMounts {
		src, ok := mounts[m.Name]
		if !ok {
			t.Fatalf("container %s mounts volume %q, which the pod does not define", c.Name, m.Name)
		}
		spec := src + ",dst=" + m.MountPath
		if m.ReadOnly {
			spec += ",readonly"
		}
		flags = append(flags, "--mount", spec)
	}
	vars := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("container %s: env %s uses valueFrom, which the simulation does not resolve", c.Name, e.Name)
		}
		vars[e.Name] = e.Value
	}
	for k, v := range env {
		vars[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		flags = append(flags, "-e", k+"="+vars[k])
	}
	return flags
}

// iamPolicy is the part of an IAM policy document the tests read.
type iamPolicy struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid       string
	Effect    string
	Principal map[string]stringOrList
	Action    stringOrList
	Resource  stringOrList
	Condition map[string]map[string]stringOrList
}

// stringOrList is an IAM field that is a string or a list of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		var one string
		if err := jsonUnmarshalStrict(b, &one); err != nil {
			return err
		}
		*s = stringOrList{one}
		return nil
	}
	return jsonUnmarshalStrict(b, (*[]string)(s))
}

func conditionHas(st iamStatement, op, keySuffix, value string) bool {
	for k, v := range st.Condition[op] {
		if strings.HasSuffix(k, keySuffix) && slices.Equal(v, stringOrList{value}) {
			return true
		}
	}
	return false
}
