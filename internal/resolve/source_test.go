package resolve

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
)

// storeSource is a Source over a flat map of parameter names relative to
// the prefix ("global/K", "services/a/K"), paging like SSM: sorted, ten to
// a page. It records every call, with its start and end.
type storeSource struct {
	params  map[string]string
	latency time.Duration // per page or batch
	err     error         // returned by every call when set

	mu    sync.Mutex
	calls []call
}

type call struct {
	op         string // "path" (one page) or "names"
	arg        string // alias, or the names joined by ","
	start, end time.Time
}

func (s *storeSource) record(op, arg string, start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call{op: op, arg: arg, start: start, end: time.Now()})
}

func (s *storeSource) wait(ctx context.Context) error {
	if s.latency == 0 {
		return ctx.Err()
	}
	select {
	case <-time.After(s.latency):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *storeSource) Service(ctx context.Context, alias string, page func(map[string]Value)) error {
	prefix := "services/" + alias + "/"
	var keys []string
	for name := range s.params {
		if k, ok := strings.CutPrefix(name, prefix); ok && !strings.Contains(k, "/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for first := true; first || len(keys) > 0; first = false {
		start := time.Now()
		if err := s.wait(ctx); err != nil {
			return err
		}
		if s.err != nil {
			return s.err
		}
		n := min(len(keys), 10)
		kv := map[string]Value{}
		for _, k := range keys[:n] {
			kv[k] = NewValue(s.params[prefix+k])
		}
		keys = keys[n:]
		s.record("path", alias, start)
		if len(kv) > 0 {
			page(kv)
		}
	}
	return nil
}

func (s *storeSource) Globals(ctx context.Context, names []string) (map[string]Value, error) {
	start := time.Now()
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	out := map[string]Value{}
	for _, n := range names {
		if v, ok := s.params["global/"+n]; ok {
			out[n] = NewValue(v)
		}
	}
	s.record("names", strings.Join(names, ","), start)
	return out, nil
}

// chain is the longest chain of dependent round trips: a call depends on
// every call that ended before it started.
func (s *storeSource) chain() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := append([]call(nil), s.calls...)
	sort.Slice(calls, func(i, j int) bool { return calls[i].start.Before(calls[j].start) })
	depth := make([]int, len(calls))
	longest := 0
	for i, c := range calls {
		depth[i] = 1
		for j := range i {
			if !calls[j].end.After(c.start) {
				depth[i] = max(depth[i], depth[j]+1)
			}
		}
		longest = max(longest, depth[i])
	}
	return longest
}

func (s *storeSource) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.op == op {
			n++
		}
	}
	return n
}
