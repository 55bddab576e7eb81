package main

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/envinit/envinit/internal/cli"
	"github.com/envinit/envinit/internal/resolve"
)

// config is the settings a command uses, converted once, after the
// variables and the flags were merged as raw strings.
type config struct {
	Service    string
	Prefix     string
	SecretsDir string
	Timeout    time.Duration
	Override   bool
	User       string
	Log        slog.Level
	Store      string
	KMSKeyID   string
	NoNewPrivs bool

	// from names where each setting that was given came from: "--timeout"
	// or "ENVINIT_TIMEOUT"; absent for a default.
	from map[string]string
}

// source names where setting name came from, for messages: its flag when
// the flag was given, else its variable.
func (c *config) source(name string) string {
	if f, ok := c.from[name]; ok {
		return f
	}
	return settingNamed(name).Var
}

// setting is one ENVINIT_* variable and its flag.
type setting struct {
	Flag, Var, Arg string
	Default        string
	Usage          string
	// set converts raw into c, or says why it cannot, without the value.
	set func(c *config, raw string) error
}

var settings = []*setting{
	{Flag: "service", Var: "ENVINIT_SERVICE", Arg: "SERVICE", Usage: "alias of the service, e.g. svc-abc", set: func(c *config, raw string) error {
		switch {
		case strings.HasPrefix(raw, "$"):
			return errors.New("write the alias without the $ (svc-abc, not $svc-abc)")
		case raw != "" && !resolve.ValidAlias(raw):
			return errors.New("not a valid alias ([A-Za-z0-9][A-Za-z0-9_.-]*)")
		}
		c.Service = raw
		return nil
	}},
	{Flag: "prefix", Var: "ENVINIT_PREFIX", Arg: "PATH", Default: "/envinit", Usage: "SSM path of the environment", set: func(c *config, raw string) error {
		if !strings.HasPrefix(raw, "/") {
			return errors.New("must be an SSM path starting with /, e.g. /envinit or /prod/envinit")
		}
		c.Prefix = strings.TrimRight(raw, "/")
		return nil
	}},
	{Flag: "secrets-dir", Var: "ENVINIT_SECRETS_DIR", Arg: "DIR", Usage: "memory-backed directory for sensitive values (default /run/secrets, else /dev/shm/envinit)", set: func(c *config, raw string) error {
		if raw != "" && !filepath.IsAbs(raw) {
			return errors.New("must be an absolute path, e.g. /run/secrets")
		}
		c.SecretsDir = raw
		return nil
	}},
	{Flag: "timeout", Var: "ENVINIT_TIMEOUT", Arg: "DURATION", Default: "30s", Usage: "deadline for reading the store", set: func(c *config, raw string) error {
		d, err := time.ParseDuration(raw)
		switch {
		case err != nil:
			return errors.New("not a valid duration (e.g. 30s, 2m)")
		case d <= 0:
			return errors.New("must be a positive duration, e.g. 30s")
		}
		c.Timeout = d
		return nil
	}},
	{Flag: "override", Var: "ENVINIT_OVERRIDE", Default: "true", Usage: "secrets replace variables already set; =false: existing ones win", set: func(c *config, raw string) error {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not a valid boolean (true or false)")
		}
		c.Override = b
		return nil
	}},
	{Flag: "user", Var: "ENVINIT_USER", Arg: "USER", Usage: "user[:group] or uid[:gid] to run COMMAND as", set: func(c *config, raw string) error {
		c.User = raw
		return nil
	}},
	{Flag: "log", Var: "ENVINIT_LOG", Arg: "LEVEL", Default: "info", Usage: "quiet, info or debug", set: func(c *config, raw string) error {
		l, ok := logLevels[raw]
		if !ok {
			return errors.New("must be quiet, info or debug")
		}
		c.Log = l
		return nil
	}},
	{Flag: "store", Var: "ENVINIT_STORE", Arg: "STORE", Default: "ssm", Usage: "ssm, or file:PATH for a local JSON store", set: func(c *config, raw string) error {
		if raw != "ssm" && (!strings.HasPrefix(raw, "file:") || raw == "file:") {
			return errors.New("must be ssm or file:PATH")
		}
		c.Store = raw
		return nil
	}},
	{Flag: "no-new-privs", Var: "ENVINIT_NO_NEW_PRIVS", Default: "false", Usage: "COMMAND and its children can never gain privileges, not even through a setuid binary", set: func(c *config, raw string) error {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not a valid boolean (true or false)")
		}
		c.NoNewPrivs = b
		return nil
	}},
	{Flag: "kms-key-id", Var: "ENVINIT_KMS_KEY_ID", Arg: "KEY", Usage: "KMS key (id, ARN or alias/NAME) to encrypt with (default: the account's aws/ssm key)", set: func(c *config, raw string) error {
		c.KMSKeyID = raw
		return nil
	}},
}

// uses returns the flags of the named settings, for a command's Settings.
func uses(names ...string) []*cli.Flag {
	var out []*cli.Flag
	for _, name := range names {
		s := settingNamed(name)
		out = append(out, &cli.Flag{Name: s.Flag, Var: s.Var, Arg: s.Arg, Default: s.Default, Usage: s.Usage})
	}
	return out
}

func settingNamed(name string) *setting {
	for _, s := range settings {
		if s.Flag == name {
			return s
		}
	}
	panic("no setting " + name) // the command table names one that does not exist
}

// variables is what envconfig reads: every setting as a raw string, so
// that a variable that does not parse can still be overridden by its flag
// and its error can name it without echoing the value (envconfig's own
// parse errors quote it).
type variables struct {
	Service    string
	Prefix     string
	SecretsDir string `split_words:"true"`
	Timeout    string
	Override   string
	User       string
	Log        string
	Store      string
	KMSKeyID   string `split_words:"true"`
	NoNewPrivs string `split_words:"true"`
}

func (v *variables) get(flag string) string {
	return map[string]string{
		"service": v.Service, "prefix": v.Prefix, "secrets-dir": v.SecretsDir, "timeout": v.Timeout,
		"override": v.Override, "user": v.User, "log": v.Log, "store": v.Store, "kms-key-id": v.KMSKeyID,
		"no-new-privs": v.NoNewPrivs,
	}[flag]
}

// loadConfig merges the settings cmd uses, a flag over its variable over
// the default, and converts them once. given holds the raw values of the
// flags given. A value that does not convert is a usage error naming the
// flag, or a configuration error naming the variable; neither quotes it.
func loadConfig(cmd *command, given map[string]string) (config, error) {
	c := config{from: map[string]string{}}
	if len(cmd.Settings) == 0 {
		return c, nil
	}
	var v variables
	if err := envconfig.Process("envinit", &v); err != nil {
		return c, &configError{msg: "reading the ENVINIT_* variables: " + err.Error()}
	}
	for _, f := range cmd.Settings {
		name := f.Name
		s := settingNamed(name)
		raw, from := s.Default, ""
		if f, ok := given[name]; ok {
			raw, from = f, "--"+name
		} else if e := v.get(name); e != "" {
			raw, from = e, s.Var
		}
		if from != "" {
			c.from[name] = from
		}
		if err := s.set(&c, raw); err != nil {
			if from == s.Var {
				return c, &configError{msg: from + ": " + err.Error()}
			}
			return c, usagef(cmd, "%s: %s", from, err)
		}
	}
	return c, nil
}

// logLevels maps ENVINIT_LOG to the least level printed. quiet prints
// nothing but the final error, which main writes itself.
var logLevels = map[string]slog.Level{
	"quiet": slog.LevelError + 1,
	"info":  slog.LevelInfo,
	"debug": slog.LevelDebug,
}

// logger writes envinit's log lines to w. Lines carry names and counts,
// never a value.
func logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the container runtime stamps each line
			}
			return a
		},
	}))
}

// invocation is one parsed command line.
type invocation struct {
	*app
	cmd  *command
	args []string // positional arguments before --
	// rest is what follows --; dash says there was a --.
	rest  []string
	dash  bool
	flags map[string]string // raw values of the command's own flags given
	cfg   config
}

// flag returns the raw value of one of the command's own flags, or its
// default.
func (inv *invocation) flag(name string) string {
	if v, ok := inv.flags[name]; ok {
		return v
	}
	for _, f := range inv.cmd.Flags {
		if f.Name == name {
			return f.Default
		}
	}
	panic("no flag " + name)
}

// on reports a switch: parse has checked that its value is a boolean.
func (inv *invocation) on(name string) bool {
	b, _ := strconv.ParseBool(inv.flag(name))
	return b
}

// service is the service a command works on: SERVICE, the positional
// argument, else --service or ENVINIT_SERVICE.
func (inv *invocation) service() (string, error) {
	if len(inv.args) > 0 {
		if inv.cfg.from["service"] == "--service" {
			return "", usagef(inv.cmd, "SERVICE is given twice: as an argument and with --service")
		}
		if !resolve.ValidAlias(inv.args[0]) {
			return "", usagef(inv.cmd, "%q is not a service alias: write it as ENVINIT_SERVICE takes it, e.g. svc-abc (no $)", inv.args[0])
		}
		return inv.args[0], nil
	}
	if inv.cfg.Service == "" {
		return "", &configError{msg: "ENVINIT_SERVICE is not set", hints: []string{"set it (or --service) to this service's alias, e.g. svc-abc"}}
	}
	return inv.cfg.Service, nil
}

// services are the services a command that takes SERVICE... works on:
// the arguments, else --service or ENVINIT_SERVICE.
func (inv *invocation) services() ([]string, error) {
	for _, s := range inv.args {
		if !resolve.ValidAlias(s) {
			return nil, usagef(inv.cmd, "%q is not a service alias: write it as ENVINIT_SERVICE takes it, e.g. svc-abc (no $)", s)
		}
	}
	switch {
	case len(inv.args) == 0:
		s, err := inv.service()
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	case inv.cfg.from["service"] == "--service":
		return nil, usagef(inv.cmd, "SERVICE is given twice: as arguments and with --service")
	}
	return inv.args, nil
}

// parse parses a command line for cmd (internal/cli), then converts the
// settings it uses, merged with their variables, once.
func parse(a *app, cmd *command, args []string) (*invocation, error) {
	l, err := cli.Parse(cmd, args)
	if err != nil {
		return nil, err
	}
	inv := &invocation{app: a, cmd: cmd, args: l.Args, rest: l.Rest, dash: l.Dash, flags: map[string]string{}}
	for _, f := range cmd.Flags {
		if v, ok := l.Given[f.Name]; ok {
			inv.flags[f.Name] = v
		}
	}
	inv.cfg, err = loadConfig(cmd, l.Given)
	return inv, err
}
