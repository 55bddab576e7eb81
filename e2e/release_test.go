package e2e

// The release tests run scripts/release as a maintainer would, in clones
// of the repository at the commit under test: the artifacts it lists, each
// reproducible byte for byte, the version stamped, and the refusals that
// keep a release tied to its tag. They build the commit checked out, as
// the script does: commit a change to the scripts before running them.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// releaseArches are the targets scripts/release builds, with their ELF
// machine.
var releaseArches = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// releaseTimeout bounds one run of scripts/release: two cross-compiles
// and two SBOMs, from a cold build cache on a busy machine, plus the SBOM
// tool's installation the first time.
const releaseTimeout = 10 * time.Minute

func TestRelease(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("\n\n*** SKIPPING THE RELEASE TESTS: no git (%v).\n*** scripts/release is NOT tested on this machine.\n", err)
	}
	// Not parallel: four cross-compiles would starve the timing-sensitive
	// tests.
	commit := strings.TrimSpace(mustGit(t, "..", "rev-parse", "HEAD"))

	// Two builds of the commit, from clones at different paths, run from
	// different directories with --out relative to each.
	a, b := cloneAt(t, commit), cloneAt(t, commit)
	out1 := filepath.Join(t.TempDir(), "dist")
	runRelease(t, a, a, "--snapshot", "--out", out1).mustSucceed(t)
	cwd := t.TempDir()
	runRelease(t, b, cwd, "--snapshot", "--out", "elsewhere").mustSucceed(t)
	out2 := filepath.Join(cwd, "elsewhere")

	files1, files2 := readDir(t, out1), readDir(t, out2)
	var want []string
	for arch := range releaseArches {
		want = append(want, "envinit-linux-"+arch, "envinit-linux-"+arch+".cdx.json")
	}
	want = append(want, "SHA256SUMS")
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(files1)); !slices.Equal(got, want) {
		t.Fatalf("scripts/release wrote %q; want %q", got, want)
	}
	for name, content := range files1 {
		if !bytes.Equal(content, files2[name]) {
			t.Errorf("%s: the two builds of %.12s differ (sha256 %x and %x); want the same bytes", name, commit, sha256.Sum256(content), sha256.Sum256(files2[name]))
		}
	}

	checkSums(t, files1)
	version := "snapshot-" + commit[:12]
	for arch, machine := range releaseArches {
		bin := filepath.Join(out1, "envinit-linux-"+arch)
		checkReleaseBinary(t, bin, machine)
		checkSBOM(t, bin, files1["envinit-linux-"+arch+".cdx.json"], arch)
	}
	hostBin := filepath.Join(out1, "envinit-linux-"+runtime.GOARCH)
	if want := fmt.Sprintf("envinit %s (%s)\n", version, commit); runVersion(t, hostBin) != want {
		t.Errorf("%s version: got %q; want %q", hostBin, runVersion(t, hostBin), want)
	}

	// A release: the tag, not the word snapshot, is the version.
	mustGit(t, b, "tag", "v0.0.1-e2e")
	out3 := filepath.Join(t.TempDir(), "release")
	runRelease(t, b, b, "v0.0.1-e2e", "--out", out3).mustSucceed(t)
	hostBin = filepath.Join(out3, "envinit-linux-"+runtime.GOARCH)
	if want := fmt.Sprintf("envinit v0.0.1-e2e (%s)\n", commit); runVersion(t, hostBin) != want {
		t.Errorf("%s version: got %q; want %q", hostBin, runVersion(t, hostBin), want)
	}
	checkSums(t, readDir(t, out3))
}

// TestReleaseRefuses: a release is built only from its tag, on a clean
// tree, and nothing is written otherwise.
func TestReleaseRefuses(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("no git: %v", err)
	}
	t.Parallel()
	commit := strings.TrimSpace(mustGit(t, "..", "rev-parse", "HEAD"))
	dir := cloneAt(t, commit)
	mustGit(t, dir, "tag", "v0.0.2-e2e")
	mustGit(t, dir, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "--quiet", "--allow-empty", "-m", "after the tag")

	for _, c := range []struct {
		name   string
		args   []string
		dirty  bool
		stderr string
		code   int
	}{
		{name: "NotAVersion", args: []string{"1.2"}, stderr: "1.2: not a version", code: 1},
		{name: "NoTag", args: []string{"v9.9.9"}, stderr: "no tag v9.9.9", code: 1},
		{name: "TagNotHEAD", args: []string{"v0.0.2-e2e"}, stderr: "tag v0.0.2-e2e is " + commit[:12] + ", not HEAD", code: 1},
		{name: "Dirty", args: []string{"v0.0.2-e2e"}, dirty: true, stderr: "uncommitted changes", code: 1},
		{name: "SnapshotWithVersion", args: []string{"--snapshot", "v1.0.0"}, stderr: "--snapshot takes no VERSION", code: 1},
		{name: "NoVersion", args: nil, stderr: "usage", code: 64},
		{name: "UnknownFlag", args: []string{"--snapsot"}, stderr: "usage", code: 64},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.dirty {
				readme := filepath.Join(dir, "README.md")
				orig, err := os.ReadFile(readme)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(readme, append(slices.Clone(orig), "\nchanged\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.WriteFile(readme, orig, 0o644)
			}
			out := filepath.Join(t.TempDir(), "dist")
			r := runRelease(t, dir, dir, append(c.args, "--out", out)...)
			if r.Code != c.code || !strings.Contains(r.Stderr, c.stderr) {
				t.Errorf("scripts/release %q: exit %d, stderr %q; want %d and %q", c.args, r.Code, r.Stderr, c.code, c.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("scripts/release %q: %s exists (%v); want nothing written", c.args, out, err)
			}
		})
	}
}

// cloneAt clones the repository under test into a temporary directory and
// checks out commit.
func cloneAt(t *testing.T, commit string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "envinit")
	mustGit(t, root, "clone", "--quiet", "--no-checkout", root, dir)
	mustGit(t, dir, "checkout", "--quiet", "--detach", commit)
	return dir
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.Bytes())
	}
	return string(out)
}

type scriptResult struct {
	args           []string
	Code           int
	Stdout, Stderr string
}

func (r scriptResult) mustSucceed(t *testing.T) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.Code, r.Stdout, r.Stderr)
	}
}

// runRelease runs scripts/release of the clone repo from the directory cwd.
func runRelease(t *testing.T, repo, cwd string, args ...string) scriptResult {
	t.Helper()
	return runScript(t, releaseTimeout, cwd, nil, filepath.Join(repo, "scripts/release"), args...)
}

// runScript runs one of the repository's scripts with the test's
// environment plus env.
func runScript(t *testing.T, timeout time.Duration, cwd string, env []string, script string, args ...string) scriptResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := scriptResult{args: append([]string{script}, args...), Code: -1, Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s: no end within %v\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), timeout, r.Stdout, r.Stderr)
	}
	if cmd.ProcessState == nil {
		t.Fatalf("%s: %v", strings.Join(r.args, " "), err)
	}
	r.Code = cmd.ProcessState.ExitCode()
	return r
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if files[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// checkSums checks that SHA256SUMS lists every other file, with its hash,
// in the format sha256sum -c reads.
func checkSums(t *testing.T, files map[string][]byte) {
	t.Helper()
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(files["SHA256SUMS"]), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Errorf("SHA256SUMS: %q: want HASH  NAME", line)
			continue
		}
		content, found := files[name]
		if got := sha256.Sum256(content); !found || sum != hex.EncodeToString(got[:]) {
			t.Errorf("SHA256SUMS: %s: got %s; want the file's sha256 %x", name, sum, got)
		}
		listed[name] = true
	}
	for name := range files {
		if name != "SHA256SUMS" && !listed[name] {
			t.Errorf("SHA256SUMS does not list %s", name)
		}
	}
}

// checkReleaseBinary: static, stripped, for machine, and built as
// scripts/build says.
func checkReleaseBinary(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	assertStaticStripped(t, path)
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: ELF machine %v; want %v", path, f.Machine, machine)
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if settings[k] != want {
			t.Errorf("%s: build setting %s=%q; want %q", path, k, settings[k], want)
		}
	}
	for _, k := range []string{"vcs.revision", "vcs.time", "vcs.modified"} {
		if _, ok := settings[k]; ok {
			t.Errorf("%s: build setting %s recorded; want no VCS state (it differs between a checkout and a source tree)", path, k)
		}
	}
}

// checkSBOM: a CycloneDX document for bin's target that lists every module
// bin links, at the version it links.
func checkSBOM(t *testing.T, bin string, doc []byte, arch string) {
	t.Helper()
	var sbom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct {
				Name       string `json:"name"`
				Properties []struct{ Name, Value string }
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Name, Version, Purl string
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &sbom); err != nil {
		t.Fatalf("%s SBOM: %v", bin, err)
	}
	if sbom.BOMFormat != "CycloneDX" || sbom.Metadata.Component.Name != "github.com/envinit/envinit" {
		t.Errorf("%s SBOM: format %q, component %q; want CycloneDX, github.com/envinit/envinit", bin, sbom.BOMFormat, sbom.Metadata.Component.Name)
	}
	if !slices.Contains(sbom.Metadata.Component.Properties, struct{ Name, Value string }{"cdx:gomod:build:env:GOARCH", arch}) {
		t.Errorf("%s SBOM: properties %v; want GOARCH %s", bin, sbom.Metadata.Component.Properties, arch)
	}
	listed := map[string]bool{}
	for _, c := range sbom.Components {
		listed[c.Name+"@"+c.Version] = true
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !listed["std@"+info.GoVersion] {
		t.Errorf("%s SBOM: no component std@%s (the Go release, for vulnerability scanners)", bin, info.GoVersion)
	}
	for _, dep := range info.Deps {
		if !listed[dep.Path+"@"+dep.Version] {
			t.Errorf("%s SBOM: no component %s@%s, which the binary links", bin, dep.Path, dep.Version)
		}
	}
}

func runVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	return string(out)
}
