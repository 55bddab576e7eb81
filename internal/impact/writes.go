package impact

import (
	"maps"
	"slices"

	"github.com/envinit/envinit/internal/resolve"
)

// Write is one store operation of a plan: put Value as Owner's Key, or
// delete it.
type Write struct {
	Owner  string // a service's alias, or Global
	Key    string
	Value  resolve.Value // the raw value to put; zero for a delete
	Delete bool
}

// Writes returns the store operations that turn Before into After, each
// parameter written at most once except __sensitive, in the order that
// never exposes a sensitive value should the run stop between any two:
//
//  1. each __sensitive that gains keys, with those keys added and none
//     removed yet;
//  2. the other values put, by owner and key;
//  3. the other keys deleted;
//  4. each __sensitive as After has it (put, or deleted when empty), when
//     step 1 did not already leave it so.
//
// A run stopped part way can leave a listed key that does not exist (yet,
// or any more): the start then fails, closed, until the same change is run
// again. Values equal to what is stored are not written again.
func (p *Plan) Writes() []Write {
	var first, puts, deletes, last []Write
	for _, owner := range slices.Sorted(maps.Keys(p.changed)) {
		for _, key := range slices.Sorted(maps.Keys(p.changed[owner])) {
			if key == resolve.SensitiveKey {
				continue
			}
			if param, ok := p.After.Get(owner, key); ok {
				puts = append(puts, Write{Owner: owner, Key: key, Value: param.Value})
			} else {
				deletes = append(deletes, Write{Owner: owner, Key: key, Delete: true})
			}
		}
		if !p.changed[owner][resolve.SensitiveKey] {
			continue
		}
		old, _ := p.Before.Get(owner, resolve.SensitiveKey)
		now, listed := p.After.Get(owner, resolve.SensitiveKey)
		stored := old.Value.Reveal()
		if listed {
			var added []string
			was := sensitiveSet(stored)
			for _, k := range resolve.SplitList(now.Value.Reveal()) {
				if !was[k] {
					added = append(added, k)
				}
			}
			if next, grows := editList(stored, added, nil); grows && stored == "" {
				// Every key is added: the list as After spells it.
				first = append(first, Write{Owner: owner, Key: resolve.SensitiveKey, Value: now.Value})
				stored = now.Value.Reveal()
			} else if grows {
				first = append(first, Write{Owner: owner, Key: resolve.SensitiveKey, Value: resolve.NewValue(next)})
				stored = next
			}
		}
		switch {
		case !listed:
			last = append(last, Write{Owner: owner, Key: resolve.SensitiveKey, Delete: true})
		case stored != now.Value.Reveal():
			last = append(last, Write{Owner: owner, Key: resolve.SensitiveKey, Value: now.Value})
		}
	}
	return slices.Concat(first, puts, deletes, last)
}
