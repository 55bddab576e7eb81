package impact

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"time"
)

// Fingerprint is a digest of everything one service's start reads.
type Fingerprint struct {
	Alias string
	// Digest is the hex SHA-256 of the name, version and modification
	// time of every parameter the start reads — the service's keys, its
	// imports' (transitively), the keys of every service a reference
	// names and every global a reference names, existing or not — and of
	// the exposure (KEY or KEY_FILE) of each variable it exports. No value
	// goes into it, nor any digest of one: a value changes the digest
	// through its version.
	Digest string
	// Params is how many existing parameters the start reads.
	Params int
	// OK reports whether the start would succeed.
	OK bool
}

// fingerprintVersion starts the digested text, so that a change of what
// goes into it changes every digest rather than colliding with the old.
const fingerprintVersion = "envinit fingerprint 1\n"

// Fingerprint returns the fingerprint of service alias. A change to a
// parameter its start does not read leaves it as it is; a change to one
// it reads — a new version, a parameter created or deleted — changes it,
// and so does a change of a variable's sensitivity, which only such
// changes can make. Parameters without versions (a file store) change the
// digest only by appearing or going.
func (e *Env) Fingerprint(alias string) Fingerprint {
	o, r := e.start(alias)
	fp := Fingerprint{Alias: alias, OK: o.OK()}
	h := sha256.New()
	h.Write([]byte(fingerprintVersion))
	fmt.Fprintf(h, "service %q\n", alias)
	for _, a := range slices.Sorted(maps.Keys(r.services)) {
		kv := e.owners[a]
		if len(kv) == 0 {
			fmt.Fprintf(h, "absent service %q\n", a)
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			fp.Params++
			param(h, "$"+a+"/"+k, kv[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.globals)) {
		p, ok := e.owners[Global][k]
		if !ok {
			fmt.Fprintf(h, "absent global %q\n", k)
			continue
		}
		fp.Params++
		param(h, "$/"+k, p)
	}
	if o.Result != nil {
		for _, s := range o.Result.Secrets {
			x := AsVariable
			if s.Sensitive {
				x = AsFile
			}
			fmt.Fprintf(h, "exports %q\n", x.Variable(s.Key))
		}
	}
	fp.Digest = hex.EncodeToString(h.Sum(nil))
	return fp
}

func param(h hash.Hash, name string, p Param) {
	fmt.Fprintf(h, "%q v%d %s\n", name, p.Version, p.Modified.UTC().Format(time.RFC3339Nano))
}
