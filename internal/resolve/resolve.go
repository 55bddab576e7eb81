package resolve

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// MaxValueSize caps one value's expansion: a value that doubles a reference
// a few dozen levels deep (a reference "bomb") fails here instead of eating
// the container's memory.
const MaxValueSize = 128 << 10

// Result is a service's resolved environment.
type Result struct {
	// Secrets are the service's exported keys (its own and its imports'),
	// sorted by key.
	Secrets []Secret
	// Env are the container's variables whose values held references or
	// escapes, resolved, sorted by key. Variables without either are not
	// listed: they pass through unchanged.
	Env []Secret
}

// Resolve computes the environment of service alias from what Gather
// collected, and resolves the references in env (the container's
// environment, KEY=VALUE; ENVINIT_* is skipped). It reports every problem
// it finds, not only the first, as one error (errors.Join) in a
// deterministic order; each matches ErrData. It never returns a partial
// result.
func Resolve(g *Graph, alias string, env []string) (*Result, error) {
	r := &resolver{
		g:     g,
		views: map[string]*view{},
		memo:  map[node]*expansion{},
		seen:  map[string]bool{},
	}
	res := &Result{}
	var secrets, envs []node
	if v, err := r.view(alias, ""); err != nil {
		r.report(err)
	} else {
		for _, k := range slices.Sorted(maps.Keys(v.owner)) {
			owner := v.owner[k]
			n := node{owner: owner, key: k}
			if s, ok := r.final(n, "$"+alias+"/"+k, g.services[owner][k].Reveal()); ok {
				s.Origin = owner
				res.Secrets = append(res.Secrets, s)
				secrets = append(secrets, n)
			}
		}
	}
	vars := ContainerEnv(env)
	slices.SortFunc(vars, func(a, b Var) int { return strings.Compare(a.Name, b.Name) })
	for _, v := range vars {
		k, raw := v.Name, v.Value
		if !hasMarker(raw) {
			continue
		}
		n := node{owner: envOwner, key: k}
		if s, ok := r.final(n, "env "+k, raw); ok {
			s.Origin = OriginEnv
			res.Env = append(res.Env, s)
			envs = append(envs, n)
		}
	}
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	// Every value is expanded, so every view this start reads is built:
	// only now is it known which values are secrets.
	t := r.taint()
	for i, n := range secrets {
		res.Secrets[i].Sensitive = t.sensitive(n)
	}
	for i, n := range envs {
		res.Env[i].Sensitive = t.sensitive(n)
	}
	return res, nil
}

// envOwner marks a container variable's node; it is not a valid alias.
const envOwner = "\x00env"

// node is where a raw value is defined: a service's own key, a global
// (owner ""), or a container variable (owner envOwner).
type node struct{ owner, key string }

// view is the keys a service sees: its own and its imports', each mapped
// to the service that defines it.
type view struct {
	owner  map[string]string
	sens   map[string]bool // listed as sensitive by its owner or by a service on the import path
	active bool            // being built: reaching it again is an import cycle
}

type expansion struct {
	val  string
	refs []string
	// uses are the nodes the value interpolates directly: whether it is
	// sensitive is decided once every value is expanded (see taint).
	uses []node
	err  error
	done bool // false while being expanded: reaching it again is a cycle
}

type resolver struct {
	g     *Graph
	views map[string]*view
	vpath []string        // services whose views are being built
	gsens map[string]bool // the globals' __sensitive, once parsed
	memo  map[node]*expansion
	epath []node   // nodes being expanded
	names []string // how each node on epath was reached, for cycle chains
	errs  []error
	seen  map[string]bool
}

func (r *resolver) report(err error) {
	if msg := err.Error(); !r.seen[msg] {
		r.seen[msg] = true
		r.errs = append(r.errs, err)
	}
}

// view builds (once) the keys service alias sees. via says how it was
// reached, for the error when it has no secrets. Problems with single keys
// are reported and skipped; the error returned means there is no view.
func (r *resolver) view(alias, via string) (*view, error) {
	if v, ok := r.views[alias]; ok {
		if v.active {
			i := slices.Index(r.vpath, alias)
			chain := append(slices.Clone(r.vpath[i:]), alias)
			for j := range chain {
				chain[j] = "$" + chain[j]
			}
			return nil, &CycleError{Kind: "import", Chain: chain}
		}
		return v, nil
	}
	keys, ok := r.g.services[alias]
	if !ok {
		return nil, fmt.Errorf("internal error: service %s was not gathered", alias)
	}
	if len(keys) == 0 {
		return nil, &NoSecretsError{Alias: alias, Via: via}
	}
	v := &view{owner: map[string]string{}, sens: map[string]bool{}, active: true}
	r.views[alias] = v
	r.vpath = append(r.vpath, alias)
	defer func() {
		v.active = false
		r.vpath = r.vpath[:len(r.vpath)-1]
	}()

	if list, ok := keys[ImportKey]; ok {
		where := "$" + alias + "/" + ImportKey
		toks := splitList(list.Reveal())
		if len(toks) == 0 {
			r.report(&SyntaxError{Where: where, Reason: "empty import list (write $ALIAS, or several: $a, $b)"})
		}
		off := 0
		for i, tok := range toks {
			off = strings.Index(list.Reveal()[off:], tok) + off
			imp, ok := strings.CutPrefix(tok, "$")
			if !ok || !validAlias(imp) {
				r.report(&SyntaxError{Where: where, Offset: off, Reason: fmt.Sprintf("entry %d is not of the form $ALIAS", i+1)})
				continue
			}
			iv, err := r.view(imp, "imported by $"+alias)
			if err != nil {
				r.report(err)
				continue
			}
			// Later imports override earlier ones.
			for k, owner := range iv.owner {
				v.owner[k] = owner
				v.sens[k] = iv.sens[k]
			}
		}
	}
	sens := map[string]bool{}
	if list, ok := keys[SensitiveKey]; ok {
		for _, k := range splitList(list.Reveal()) {
			if !validKey(k) || isSpecial(k) {
				r.report(&KeyError{Where: "$" + alias + "/" + SensitiveKey, Key: k, Reason: "not a key name"})
				continue
			}
			sens[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		switch {
		case k == ImportKey || k == SensitiveKey:
		case isSpecial(k):
			r.report(&KeyError{Where: "$" + alias, Key: k, Reason: "unknown special key (only " + ImportKey + " and " + SensitiveKey + " exist)"})
		case checkKey(k) != "":
			r.report(&KeyError{Where: "$" + alias, Key: k, Reason: checkKey(k)})
		default:
			v.owner[k] = alias // own keys override every import
			v.sens[k] = false
		}
	}
	// A name listed as sensitive that the service does not have is most
	// likely a typo, and the key it meant would land in the environment.
	// A service may mark a key it imports as sensitive, never the reverse:
	// sensitivity only ever grows along an import.
	for _, k := range slices.Sorted(maps.Keys(sens)) {
		if _, ok := v.owner[k]; !ok {
			r.report(&KeyError{Where: "$" + alias + "/" + SensitiveKey, Key: k, Reason: "listed as sensitive but not a key of $" + alias})
			continue
		}
		v.sens[k] = true
	}
	return v, nil
}

// final expands the value at n into an exported variable, checking what
// only a final value must satisfy.
func (r *resolver) final(n node, name, raw string) (Secret, bool) {
	e := r.expand(n, name, raw)
	if e.err != nil {
		r.report(e.err)
		return Secret{}, false
	}
	if why := checkValue(e.val); why != "" {
		r.report(&ValueError{Where: name, Reason: why})
		return Secret{}, false
	}
	return Secret{Key: n.key, Value: NewValue(e.val), Refs: e.refs}, true
}

// expand resolves the references in raw, the value defined at n and
// reached as name. Results are memoized per node, so a value referenced
// many times is expanded once and a reference bomb costs at most
// MaxValueSize per node.
func (r *resolver) expand(n node, name, raw string) *expansion {
	if e, ok := r.memo[n]; ok {
		if !e.done {
			i := slices.Index(r.epath, n)
			chain := append(slices.Clone(r.names[i:]), name)
			return &expansion{err: &CycleError{Kind: "reference", Chain: chain}}
		}
		return e
	}
	e := &expansion{}
	r.memo[n] = e
	r.epath = append(r.epath, n)
	r.names = append(r.names, name)
	defer func() {
		e.done = true
		r.epath = r.epath[:len(r.epath)-1]
		r.names = r.names[:len(r.names)-1]
	}()

	// An error names the chain from the exported key to this value: the
	// key is what the operator looks for, the value is what to fix.
	where := r.chain(n)
	if n.owner == "" {
		r.globalSensitive() // reports a bad globals' __sensitive
	}
	if strings.IndexByte(raw, 0) >= 0 {
		e.err = &ValueError{Where: where, Reason: "value holds a NUL byte"}
		return e
	}
	if !hasMarker(raw) {
		if len(raw) > MaxValueSize {
			e.err = &ValueError{Where: where, Reason: fmt.Sprintf("value is larger than %d KiB", MaxValueSize>>10)}
		}
		e.val = raw
		return e
	}
	parts, err := parse(where, raw)
	if err != nil {
		e.err = err
		return e
	}
	var b strings.Builder
	for _, p := range parts {
		s := p.lit
		if p.isRef {
			sub, target := r.follow(where, p.ref)
			if sub.err != nil {
				e.err = sub.err
				return e
			}
			s = sub.val
			e.uses = append(e.uses, target)
			e.refs = append(e.refs, p.ref.String())
		}
		if b.Len()+len(s) > MaxValueSize {
			e.err = &ValueError{Where: where, Reason: fmt.Sprintf("expands past %d KiB (a reference loop or bomb?)", MaxValueSize>>10)}
			return e
		}
		b.WriteString(s)
	}
	e.val = b.String()
	return e
}

// follow expands the target of one reference found in the value at where,
// and says which node that is.
func (r *resolver) follow(where string, ref Ref) (*expansion, node) {
	if ref.Alias == "" {
		n := node{key: ref.Key}
		v, ok := r.g.globals[ref.Key]
		if !ok {
			if !r.g.asked[ref.Key] {
				return &expansion{err: fmt.Errorf("internal error: global %s was not gathered", ref.Key)}, n
			}
			return &expansion{err: &MissingError{Where: where, Ref: ref.String()}}, n
		}
		return r.expand(n, ref.String(), v.Reveal()), n
	}
	v, err := r.view(ref.Alias, "referenced by "+where)
	if err != nil {
		return &expansion{err: err}, node{}
	}
	owner, ok := v.owner[ref.Key]
	if !ok {
		return &expansion{err: &MissingError{Where: where, Ref: ref.String()}}, node{}
	}
	n := node{owner: owner, key: ref.Key}
	return r.expand(n, ref.String(), r.g.services[owner][ref.Key].Reveal()), n
}

// chain names the value at n, the last node being expanded, by how it was
// reached from the exported key: "$api/A -> $/G1 -> $/G2" (the last one by
// where it is defined). A value expanded first, not through a reference, is
// named by where it is defined alone.
func (r *resolver) chain(n node) string {
	if len(r.names) <= 1 {
		return n.where()
	}
	return strings.Join(r.names[:len(r.names)-1], " -> ") + " -> " + n.where()
}

// taint decides which values are sensitive, once every value is expanded.
//
// The rule: a value is a secret when a service this start reads lists it in
// its __sensitive, seeing it as its own key or through its imports. The
// services read are the one starting, those it imports and those its
// references name (with their imports): every view built. A value that
// interpolates a secret, directly or through any chain of references, is
// sensitive too.
//
// Why not each service's own view alone: if api imports base and lists PW,
// base's URL = "u:#{$base/PW}" holds PW's bytes whichever service exports it,
// and so does any value that references it. Sensitivity is therefore a
// property of a value's bytes within one start, not of the path that reached
// them: the same bytes never go to a file under one name and to the
// environment under another.
func (r *resolver) taint() *tainter {
	t := &tainter{memo: r.memo, marked: map[node]bool{}, done: map[node]bool{}}
	for _, v := range r.views {
		for k, sens := range v.sens {
			if sens {
				t.marked[node{owner: v.owner[k], key: k}] = true
			}
		}
	}
	for k := range r.gsens {
		t.marked[node{key: k}] = true
	}
	return t
}

type tainter struct {
	memo   map[node]*expansion
	marked map[node]bool // listed in a __sensitive, by its owner or an importer
	done   map[node]bool // sensitive(n), once known
}

// sensitive reports whether the value at n is a secret or interpolates one.
// n and everything it uses expanded without error, so the uses form no
// cycle.
func (t *tainter) sensitive(n node) bool {
	if s, ok := t.done[n]; ok {
		return s
	}
	s := t.marked[n]
	for _, u := range t.memo[n].uses {
		if s {
			break
		}
		s = t.sensitive(u)
	}
	t.done[n] = s
	return s
}

// globalSensitive parses the globals' __sensitive once.
func (r *resolver) globalSensitive() map[string]bool {
	if r.gsens != nil {
		return r.gsens
	}
	s := map[string]bool{}
	for _, k := range splitList(r.g.globals[SensitiveKey].Reveal()) {
		if !validKey(k) || isSpecial(k) {
			r.report(&KeyError{Where: "$/" + SensitiveKey, Key: k, Reason: "not a key name"})
			continue
		}
		s[k] = true
	}
	r.gsens = s
	return s
}

func (n node) where() string {
	switch n.owner {
	case "":
		return "$/" + n.key
	case envOwner:
		return "env " + n.key
	}
	return "$" + n.owner + "/" + n.key
}

// Exported lists the keys of res that COMMAND will see as variables and
// as files, for logs: names only.
func (res *Result) Exported() (vars, files []string) {
	for _, s := range res.Secrets {
		if s.Sensitive {
			files = append(files, s.Key)
		} else {
			vars = append(vars, s.Key)
		}
	}
	sort.Strings(vars)
	sort.Strings(files)
	return vars, files
}
