package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/envinit/envinit/internal/resolve"
)

// config is envinit's configuration: ENVINIT_* variables, then flags.
type config struct {
	Service    string
	Prefix     string
	SecretsDir string
	Timeout    time.Duration
	Override   bool
	User       string
	Log        string
	Store      string

	// bad holds the variables that did not parse, by name, until a flag
	// replaces them: a flag wins over its variable, even an invalid one.
	bad map[string]string
}

// variables is what envconfig reads: strings, parsed by loadConfig, so
// that a variable that does not parse can still be overridden by its flag
// and its error can name the variable without echoing the value
// (envconfig's own parse error quotes it).
type variables struct {
	Service    string
	Prefix     string `default:"/envinit"`
	SecretsDir string `split_words:"true"`
	Timeout    string `default:"30s"`
	Override   string `default:"true"`
	User       string
	Log        string `default:"info"`
	Store      string `default:"ssm"`
}

// loadConfig reads the ENVINIT_* variables. One that does not parse is
// reported by validate, unless its flag is given.
func loadConfig() (config, error) {
	var v variables
	if err := envconfig.Process("envinit", &v); err != nil {
		return config{}, &configError{"reading ENVINIT_* variables: " + err.Error()}
	}
	c := config{
		Service: v.Service, Prefix: v.Prefix, SecretsDir: v.SecretsDir,
		User: v.User, Log: v.Log, Store: v.Store, bad: map[string]string{},
		Timeout: 30 * time.Second, Override: true,
	}
	if err := c.setTimeout(v.Timeout); err != nil {
		c.bad["ENVINIT_TIMEOUT"] = "ENVINIT_TIMEOUT: " + err.Error()
	}
	if err := c.setOverride(v.Override); err != nil {
		c.bad["ENVINIT_OVERRIDE"] = "ENVINIT_OVERRIDE: " + err.Error()
	}
	return c, nil
}

func (c *config) setTimeout(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a valid duration (e.g. 30s, 2m)")
	}
	c.Timeout = d
	delete(c.bad, "ENVINIT_TIMEOUT")
	return nil
}

func (c *config) setOverride(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not a valid boolean (true or false)")
	}
	c.Override = b
	delete(c.bad, "ENVINIT_OVERRIDE")
	return nil
}

// flags defines the flag for every variable on fs, defaulting to what the
// environment set, so a flag wins over its variable.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Service, "service", c.Service, "alias of this service, e.g. svc-abc (ENVINIT_SERVICE)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "SSM path of the environment (ENVINIT_PREFIX)")
	fs.StringVar(&c.SecretsDir, "secrets-dir", c.SecretsDir, "memory-backed directory for sensitive values (ENVINIT_SECRETS_DIR)")
	fs.Func("timeout", "deadline for everything before the exec, e.g. 30s (ENVINIT_TIMEOUT)", c.setTimeout)
	fs.BoolFunc("override", "secrets replace variables already set: true or false (ENVINIT_OVERRIDE)", c.setOverride)
	fs.StringVar(&c.User, "user", c.User, "user[:group] or uid[:gid] to run COMMAND as (ENVINIT_USER)")
	fs.StringVar(&c.Log, "log", c.Log, "quiet, info or debug (ENVINIT_LOG)")
	fs.StringVar(&c.Store, "store", c.Store, "ssm, or file:PATH for a local JSON store (ENVINIT_STORE)")
}

// parseFlags parses args into c and returns what follows them.
func (c *config) parseFlags(name string, args []string, stderr io.Writer) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // its messages and usage would echo values
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{flagError(err)}
	}
	return fs.Args(), nil
}

// flagValue matches the flag package's errors that quote the value given.
// Compiled on first use: every start would pay for it, few need it.
var flagValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^invalid (?:boolean )?value .* for (?:flag )?-(\S+): (.*)$`)
})

// flagError is the flag package's error without the value it quotes: a
// flag's value may be a secret passed by mistake.
func flagError(err error) string {
	msg := err.Error()
	if m := flagValue().FindStringSubmatch(msg); m != nil {
		return "--" + m[1] + ": " + m[2]
	}
	if strings.HasPrefix(msg, "bad flag syntax") {
		return "bad flag syntax"
	}
	return msg
}

// validate checks c; values are not echoed, only the variable and what it
// wants.
func (c *config) validate() error {
	if len(c.bad) > 0 {
		return &configError{c.bad[slices.Min(slices.Collect(maps.Keys(c.bad)))]}
	}
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	switch {
	case c.Service == "":
		return &configError{"ENVINIT_SERVICE is not set: set it (or --service) to this service's alias, e.g. svc-abc"}
	case strings.HasPrefix(c.Service, "$"):
		return &configError{"ENVINIT_SERVICE: write the alias without the $ (svc-abc, not $svc-abc)"}
	case !resolve.ValidAlias(c.Service):
		return &configError{"ENVINIT_SERVICE: not a valid alias ([A-Za-z0-9][A-Za-z0-9_.-]*)"}
	case !strings.HasPrefix(c.Prefix, "/"):
		return &configError{"ENVINIT_PREFIX: must be an SSM path starting with /, e.g. /envinit or /prod/envinit"}
	case c.Timeout <= 0:
		return &configError{"ENVINIT_TIMEOUT: must be a positive duration, e.g. 30s"}
	case c.SecretsDir != "" && !filepath.IsAbs(c.SecretsDir):
		return &configError{"ENVINIT_SECRETS_DIR: must be an absolute path, e.g. /run/secrets"}
	case c.Store != "ssm" && (!strings.HasPrefix(c.Store, "file:") || c.Store == "file:"):
		return &configError{"ENVINIT_STORE: must be ssm or file:PATH"}
	}
	if _, ok := logLevels[c.Log]; !ok {
		return &configError{"ENVINIT_LOG: must be quiet, info or debug"}
	}
	return nil
}

// logLevels maps ENVINIT_LOG to the least level printed. quiet prints
// nothing but the final error line, which main writes itself.
var logLevels = map[string]slog.Level{
	"quiet": slog.LevelError + 1,
	"info":  slog.LevelInfo,
	"debug": slog.LevelDebug,
}

// logger writes envinit's log lines to w. Lines carry names and counts:
// the values they might mention are resolve.Values, which print
// [redacted], and none is passed anyway.
func (c *config) logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: logLevels[c.Log],
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the container runtime stamps each line
			}
			return a
		},
	}))
}
