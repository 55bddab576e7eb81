// Command probe is the COMMAND that the e2e tests hand to envinit: it reports
// what it was started with, so a test can check what envinit passed on.
//
//	probe report [--exit N] [--sleep D] [--marker PATH]
//	    prints one JSON object to stdout, then sleeps D and exits N:
//	    {"pid":..,"ppid":..,"uid":..,"gid":..,"euid":..,"groups":[..],"args":[..],
//	     "env":{"K":"V",..},"environ":["K=V",..],
//	     "files":{"/path":{"type":"file","mode":"0400","uid":..,"gid":..,"content":".."}}}
//	    "files" covers every path named by an environment variable whose
//	    name ends in _FILE. --marker creates PATH first, so a test can tell
//	    whether the probe ran at all.
//	    "sigblk" and "sigign" are the blocked and ignored signal masks of
//	    /proc/self/status (see report.Report for what a Go program can see).
//	probe sleep
//	    waits for SIGTERM (or SIGINT), prints "got SIGTERM" (or "got SIGINT")
//	    and exits 0.
//	probe launch [--ignore N,N] [--block N,N] -- PROGRAM [ARG...]
//	    execs PROGRAM with the signals numbered in --ignore ignored and
//	    those in --block blocked, to start envinit with a given signal state.
//
// It uses only the standard library and is built with CGO_ENABLED=0, so the
// same binary runs on the host and in a scratch or distroless container.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"github.com/envinit/envinit/e2e/internal/report"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe report [--exit N] [--sleep D] [--marker PATH] | probe sleep")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "report":
		os.Exit(runReport(os.Args[2:]))
	case "sleep":
		os.Exit(runSleep())
	case "launch":
		os.Exit(runLaunch(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "probe: unknown subcommand %q\n", os.Args[1])
		os.Exit(2)
	}
}

func runReport(args []string) int {
	fset := flag.NewFlagSet("report", flag.ContinueOnError)
	exit := fset.Int("exit", 0, "exit code")
	sleep := fset.Duration("sleep", 0, "sleep after reporting")
	marker := fset.String("marker", "", "file to create before reporting")
	// Arguments after the flags are ignored: tests pass odd ones to check
	// that argv arrives unchanged.
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if *marker != "" {
		if err := os.WriteFile(*marker, []byte("started\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "probe: %v\n", err)
			return 2
		}
	}

	r := report.Report{
		PID:     os.Getpid(),
		PPID:    os.Getppid(),
		UID:     os.Getuid(),
		GID:     os.Getgid(),
		EUID:    os.Geteuid(),
		Groups:  []int{},
		Args:    os.Args,
		Env:     map[string]string{},
		Environ: os.Environ(),
		Files:   map[string]report.File{},
	}
	r.SigBlk, r.SigIgn = statusField("SigBlk"), statusField("SigIgn")
	r.NoNewPrivs = statusField("NoNewPrivs")
	if groups, err := os.Getgroups(); err == nil && groups != nil {
		r.Groups = groups
	}
	for _, kv := range r.Environ {
		k, v, _ := strings.Cut(kv, "=")
		r.Env[k] = v
		if strings.HasSuffix(k, "_FILE") && v != "" {
			r.Files[v] = describe(v)
		}
	}

	out, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		return 2
	}
	os.Stdout.Write(append(out, '\n'))
	if *sleep > 0 {
		time.Sleep(*sleep)
	}
	return *exit
}

func describe(path string) report.File {
	fi, err := os.Lstat(path)
	if err != nil {
		return report.File{Error: err.Error()}
	}
	f := report.File{Mode: fmt.Sprintf("%04o", fi.Mode().Perm())}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.UID, f.GID = int(st.Uid), int(st.Gid)
	}
	switch fi.Mode().Type() {
	case 0:
		f.Type = "file"
		b, err := os.ReadFile(path)
		if err != nil {
			f.Error = err.Error()
		}
		f.Content = string(b)
	case fs.ModeSymlink:
		f.Type = "symlink"
	case fs.ModeDir:
		f.Type = "dir"
	default:
		f.Type = "other"
	}
	return f
}

func runSleep() int {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	sig := <-c
	name := "SIGTERM"
	if sig == syscall.SIGINT {
		name = "SIGINT"
	}
	fmt.Printf("got %s\n", name)
	return 0
}

// statusField returns a field of /proc/self/status, "" if it is not there.
func statusField(name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func runLaunch(args []string) int {
	fset := flag.NewFlagSet("launch", flag.ContinueOnError)
	ignore := fset.String("ignore", "", "signal numbers to ignore, comma-separated")
	block := fset.String("block", "", "signal numbers to block, comma-separated")
	if err := fset.Parse(args); err != nil || fset.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: probe launch [--ignore N,N] [--block N,N] -- PROGRAM [ARG...]")
		return 2
	}
	parse := func(list string) []syscall.Signal {
		var out []syscall.Signal
		for _, f := range strings.Split(list, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err == nil && n > 0 && n <= 64 {
				out = append(out, syscall.Signal(n))
			}
		}
		return out
	}
	for _, sig := range parse(*ignore) {
		signal.Ignore(sig) // SIG_IGN survives execve
	}
	// The mask is per thread and survives execve: set it on this thread
	// and exec from it.
	runtime.LockOSThread()
	var mask uint64
	for _, sig := range parse(*block) {
		mask |= 1 << (sig - 1)
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 0 /* SIG_BLOCK */, uintptr(unsafe.Pointer(&mask)), 0, 8, 0, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "probe: rt_sigprocmask: %v\n", e)
		return 2
	}
	err := syscall.Exec(fset.Arg(0), fset.Args(), os.Environ())
	fmt.Fprintf(os.Stderr, "probe: exec %s: %v\n", fset.Arg(0), err)
	return 2
}
