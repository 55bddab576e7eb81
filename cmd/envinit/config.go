package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/envinit/envinit/internal/resolve"
)

// config is envinit's configuration: ENVINIT_* variables, then flags.
type config struct {
	Service    string
	Prefix     string        `default:"/envinit"`
	SecretsDir string        `split_words:"true"`
	Timeout    time.Duration `default:"30s"`
	Override   bool          `default:"true"`
	User       string
	Log        string `default:"info"`
	Store      string `default:"ssm"`
}

// loadConfig reads the ENVINIT_* variables. envconfig's own parse error
// quotes the raw value; this one names the variable and what it wants.
func loadConfig() (config, error) {
	var c config
	if err := envconfig.Process("envinit", &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return c, &configError{fmt.Sprintf("%s: not a valid %s", pe.KeyName, wants(pe.TypeName))}
		}
		return c, &configError{"reading ENVINIT_* variables: " + err.Error()}
	}
	return c, nil
}

func wants(typeName string) string {
	switch typeName {
	case "Duration", "time.Duration":
		return "duration (e.g. 30s, 2m)"
	case "bool":
		return "boolean (true or false)"
	}
	return typeName
}

// flags defines the flag for every variable on fs, defaulting to what the
// environment set, so a flag wins over its variable.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Service, "service", c.Service, "alias of this service, e.g. svc-abc (ENVINIT_SERVICE)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "SSM path of the environment (ENVINIT_PREFIX)")
	fs.StringVar(&c.SecretsDir, "secrets-dir", c.SecretsDir, "memory-backed directory for sensitive values (ENVINIT_SECRETS_DIR)")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "deadline for everything before the exec (ENVINIT_TIMEOUT)")
	fs.BoolVar(&c.Override, "override", c.Override, "secrets replace variables already set (ENVINIT_OVERRIDE)")
	fs.StringVar(&c.User, "user", c.User, "user[:group] or uid[:gid] to run COMMAND as (ENVINIT_USER)")
	fs.StringVar(&c.Log, "log", c.Log, "quiet, info or debug (ENVINIT_LOG)")
	fs.StringVar(&c.Store, "store", c.Store, "ssm, or file:PATH for a local JSON store (ENVINIT_STORE)")
}

// parseFlags parses args into c and returns what follows them.
func (c *config) parseFlags(name string, args []string, stderr io.Writer) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	return fs.Args(), nil
}

// validate checks c; values are not echoed, only the variable and what it
// wants.
func (c *config) validate() error {
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
