package fetch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/sync/errgroup"

	"github.com/envinit/envinit/internal/resolve"
)

// This file reads a whole environment for the operator tools (envinit
// secrets, check, fingerprint): every service, the globals, and whatever
// else lies under the prefix. The entrypoint never calls it: a start reads
// only what its service reaches (SPEC §9), and DescribeParameters, which
// this needs, is both slower and more throttled than the reads a start makes.

// DescribeAPI is the part of *ssm.Client that Environment calls besides
// API's GetParameters: the listing of names, versions and modification
// times, which decrypts nothing.
type DescribeAPI interface {
	DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, optFns ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
}

var _ DescribeAPI = (*ssm.Client)(nil)

const (
	// describePage is the largest page DescribeParameters allows.
	describePage = 50
	// maxDescribePages bounds one listing: an account holds at most
	// 100,000 parameters (advanced tier), 2,000 full pages; SSM may also
	// answer pages short or empty.
	maxDescribePages = 10000
	// readFanOut bounds the GetParameters calls under way at once, as
	// resolve bounds a start's: the account's quota is shared with every
	// container starting meanwhile.
	readFanOut = 8
)

// Parameter is one parameter under the prefix as the tools see it. Its
// Value prints as [redacted].
type Parameter struct {
	Name     string // the full name: /envinit/services/api/DB_URL
	Type     string // SecureString, String or StringList; "" when the store does not say (a file store)
	KeyID    string // the KMS key of a SecureString, as SSM names it (alias/aws/ssm); "" when not known
	Version  int64  // SSM's version of the parameter; 0 when the store has none (a file store)
	Modified time.Time
	// Value is read for the parameters a start can read (Environment's
	// Services and Globals); it is the zero Value for Strays.
	Value resolve.Value
}

// Stray is a parameter under the prefix that no start reads, and why.
type Stray struct {
	Parameter
	Why string
}

// Environment is everything under one prefix, placed by the layout (SPEC §3).
type Environment struct {
	Prefix string // as cleaned: no trailing slash; "" for the root
	// Services holds, for every alias with at least one parameter directly
	// under {prefix}/services/{alias}, those parameters keyed by the last
	// segment of their names. Keys are kept as stored, valid names or not
	// (MY-KEY, as another tool may write): a start reads them all and
	// refuses the invalid ones, so the tools must show them and be able
	// to remove them.
	Services map[string]map[string]Parameter
	// Globals holds the parameters directly under {prefix}/global.
	Globals map[string]Parameter
	// Strays are the other parameters under the prefix, sorted by name:
	// nested below a service or global/, under an alias no start can name,
	// or outside both directories.
	Strays []Stray
}

// Progress is how far a read of an Environment has got.
type Progress struct {
	Listed  int  // names listed so far
	Listing bool // more names may follow
	Read    int  // values read so far
	ToRead  int  // values to read, of the names listed so far
}

// Environment reads every parameter under the prefix: the names, types,
// versions and modification times with DescribeParameters (a Name filter
// that begins with "{prefix}/", 50 to a page, decrypting nothing), then
// the values of the keys a start can read with GetParameters (10 names a
// call, WithDecryption, at most 8 calls at once, starting while the
// listing goes on). The version and modification time kept are those
// GetParameters returns with the value, so the two always belong
// together; a parameter deleted between the listing and the read is left
// out, one created meanwhile is not seen.
//
// progress, when not nil, is called after each page and each call, never
// concurrently. ctx bounds the whole read. Errors are *Error, classified
// like a start's; none holds a value.
func (s *SSM) Environment(ctx context.Context, progress func(Progress)) (*Environment, error) {
	d, ok := s.api.(DescribeAPI)
	if !ok {
		return nil, &Error{kind: ErrConfig, Reason: "this SSM client cannot list parameters (DescribeParameters)"}
	}
	r := &envReader{s: s, describe: d, progress: progress, env: newEnvironment(s.prefix)}
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(readCtx)
	g.SetLimit(readFanOut)
	err := r.list(ctx, gctx, g)
	if err != nil {
		cancel() // the reads under way are of no use
	}
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(r.env.Strays, func(a, b Stray) int { return strings.Compare(a.Name, b.Name) })
	r.report(false)
	return r.env, nil
}

func newEnvironment(prefix string) *Environment {
	return &Environment{
		Prefix:   prefix,
		Services: map[string]map[string]Parameter{},
		Globals:  map[string]Parameter{},
	}
}

type envReader struct {
	s        *SSM
	describe DescribeAPI
	progress func(Progress)

	mu  sync.Mutex // guards everything below, and serialises progress
	env *Environment
	p   Progress
}

// list pages through DescribeParameters, placing each name and sending the
// readable ones to g in batches of ten. ctx is the caller's; gctx is g's,
// canceled by the first failed read, which list then stops for.
func (r *envReader) list(ctx, gctx context.Context, g *errgroup.Group) error {
	dir := r.s.prefix + "/"
	in := &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{
			Key:    aws.String("Name"),
			Option: aws.String("BeginsWith"),
			Values: []string{dir},
		}},
		MaxResults: aws.Int32(describePage),
	}
	w := r.s.where("ssm:DescribeParameters", dir+"*")
	seen := map[string]bool{}
	var batch []string
	for range maxDescribePages {
		if ctx.Err() == nil && gctx.Err() != nil {
			return nil // a read failed: g.Wait returns its error
		}
		callCtx, log := withAttemptLog(gctx, &r.s.throttled)
		out, err := r.describe.DescribeParameters(callCtx, in)
		if err != nil {
			if ctx.Err() == nil && gctx.Err() != nil {
				return nil
			}
			return describeError(ctx, err, w, log)
		}
		// The filter is a hint: an emulator may ignore it, and SSM matches
		// a name with or without its leading slash. The prefix decides.
		for _, m := range out.Parameters {
			name := aws.ToString(m.Name)
			if !strings.HasPrefix(name, dir) {
				continue
			}
			if r.place(Parameter{
				Name:     name,
				Type:     string(m.Type),
				KeyID:    aws.ToString(m.KeyId),
				Version:  m.Version,
				Modified: aws.ToTime(m.LastModifiedDate),
			}) {
				batch = append(batch, name)
				if len(batch) == resolve.MaxGlobalsPerCall {
					r.read(gctx, g, batch)
					batch = nil
				}
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			if len(batch) > 0 {
				r.read(gctx, g, batch)
			}
			return nil
		}
		if seen[next] {
			return &Error{Path: dir + "*", kind: ErrUnavailable, Reason: "SSM repeated a pagination token of DescribeParameters: stopped rather than loop"}
		}
		seen[next] = true
		in.NextToken = aws.String(next)
		r.report(true)
	}
	return &Error{Path: dir + "*", kind: ErrUnavailable, Reason: fmt.Sprintf("SSM returned more than %d pages of DescribeParameters: stopped rather than loop", maxDescribePages)}
}

// place files p by the layout and reports whether its value is to be read.
func (r *envReader) place(p Parameter) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Listed++
	if !r.env.place(p) {
		return false
	}
	r.p.ToRead++
	return true
}

// place files p under its service, the globals or the strays, and reports
// whether a start can read it.
func (e *Environment) place(p Parameter) bool {
	alias, key, why := Place(e.Prefix, p.Name)
	switch {
	case why != "":
		e.Strays = append(e.Strays, Stray{Parameter: p, Why: why})
		return false
	case alias == "":
		e.Globals[key] = p
	default:
		if e.Services[alias] == nil {
			e.Services[alias] = map[string]Parameter{}
		}
		e.Services[alias][key] = p
	}
	return true
}

// Place says where the layout (SPEC §3) puts the parameter name, under
// prefix (as cleaned: no trailing slash): a service's key (alias, key), a
// global (alias "", key), or nowhere a start reads, with why. The key is
// the name's last segment as stored, valid or not.
func Place(prefix, name string) (alias, key, why string) {
	rel, ok := strings.CutPrefix(name, prefix+"/")
	if !ok {
		return "", "", "not under the prefix " + prefix + "/"
	}
	parts := strings.Split(rel, "/")
	switch {
	case slices.Contains(parts, ""):
		return "", "", "an empty path segment: no start reads it"
	case parts[0] == "global" && len(parts) == 2:
		return "", parts[1], ""
	case parts[0] == "global" && len(parts) > 2:
		return "", "", "nested below global/: not a global (a start reads one level)"
	case parts[0] == "services" && len(parts) == 3 && !resolve.ValidAlias(parts[1]):
		return "", "", "under services/, but " + fmt.Sprintf("%q", parts[1]) + " is not a valid service alias: no start, import or reference can name it"
	case parts[0] == "services" && len(parts) == 3:
		return parts[1], parts[2], ""
	case parts[0] == "services" && len(parts) > 3:
		return "", "", "nested below services/" + parts[1] + "/: not one of its keys (a start reads one level)"
	case parts[0] == "services" && len(parts) == 2:
		return "", "", "directly under services/: not in a service"
	}
	return "", "", "outside global/ and services/: no start reads it"
}

// Name is the parameter name of a key under prefix (as cleaned): a
// service's, {prefix}/services/{alias}/{key}, or with alias "" a global's,
// {prefix}/global/{key}. It is Place's inverse.
func Name(prefix, alias, key string) string {
	if alias == "" {
		return prefix + "/global/" + key
	}
	return prefix + "/services/" + alias + "/" + key
}

// read starts reading the values of up to ten names.
func (r *envReader) read(ctx context.Context, g *errgroup.Group, names []string) {
	g.Go(func() error {
		callCtx, log := withAttemptLog(ctx, &r.s.throttled)
		out, err := r.s.api.GetParameters(callCtx, &ssm.GetParametersInput{
			Names:          names,
			WithDecryption: aws.Bool(true),
		})
		if err != nil {
			path := r.s.prefix + "/{" + strings.Join(names, ",") + "}"
			return classify(ctx, err, r.s.where("ssm:GetParameters", path), log)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		got := make(map[string]types.Parameter, len(out.Parameters))
		for _, p := range out.Parameters {
			got[aws.ToString(p.Name)] = p
		}
		for _, name := range names {
			r.env.fill(name, got[name])
		}
		r.p.Read += len(names)
		r.reportLocked()
		return nil
	})
}

// fill sets the value of the listed name from what GetParameters returned
// for it; a zero p (the name came back as invalid: deleted since it was
// listed) removes it.
func (e *Environment) fill(name string, p types.Parameter) {
	alias, key, _ := Place(e.Prefix, name)
	kv := e.Globals
	if alias != "" {
		kv = e.Services[alias]
	}
	if p.Name == nil {
		delete(kv, key)
		if alias != "" && len(kv) == 0 {
			delete(e.Services, alias)
		}
		return
	}
	old := kv[key]
	kv[key] = Parameter{
		Name:     name,
		Type:     string(p.Type),
		KeyID:    old.KeyID,
		Version:  p.Version,
		Modified: aws.ToTime(p.LastModifiedDate),
		Value:    resolve.NewValue(aws.ToString(p.Value)),
	}
}

func (r *envReader) report(listing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Listing = listing
	r.reportLocked()
}

func (r *envReader) reportLocked() {
	if r.progress != nil {
		r.progress(r.p)
	}
}

// describeError classifies a DescribeParameters failure: like any read's,
// but access to it is granted on every resource ("*"), not on the
// parameters' ARNs.
func describeError(ctx context.Context, err error, w where, log *attemptLog) error {
	e := classify(ctx, err, w, log).(*Error)
	if e.kind == ErrAccessDenied {
		e.Reason = "ssm:DescribeParameters denied: allow it, on Resource \"*\" (it takes no narrower resource; it lists names, versions and dates, never values), " +
			"to the identity running the envinit tools; the entrypoint never needs it"
	}
	return e
}

// Environment lists the store file's parameters under the prefix, as
// SSM's Environment does. A file has no versions, types or modification
// times: those fields stay zero.
func (f *File) Environment(_ context.Context, progress func(Progress)) (*Environment, error) {
	var params []Parameter
	for name, v := range f.params {
		params = append(params, Parameter{Name: name, Value: resolve.NewValue(v)})
	}
	env := EnvironmentOf(f.prefix, params)
	if progress != nil {
		n := len(env.Globals)
		for _, kv := range env.Services {
			n += len(kv)
		}
		progress(Progress{Listed: n + len(env.Strays), Read: n, ToRead: n})
	}
	return env, nil
}

// EnvironmentOf places params, read from somewhere else, as Environment
// places what it reads from SSM: names not under prefix are left out, the
// values of strays dropped. (The file store, and the tools' test fakes.)
func EnvironmentOf(prefix string, params []Parameter) *Environment {
	env := newEnvironment(prefix)
	for _, p := range params {
		if !strings.HasPrefix(p.Name, prefix+"/") {
			continue
		}
		v := p.Value
		p.Value = resolve.Value{}
		if env.place(p) {
			alias, key, _ := Place(prefix, p.Name)
			p.Value = v
			if alias == "" {
				env.Globals[key] = p
			} else {
				env.Services[alias][key] = p
			}
		}
	}
	slices.SortFunc(env.Strays, func(a, b Stray) int { return strings.Compare(a.Name, b.Name) })
	return env
}
