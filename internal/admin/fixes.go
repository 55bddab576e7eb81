package admin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/envinit/envinit/internal/dotenv"
	"github.com/envinit/envinit/internal/resolve"
)

// Fixes returns, for the problems of a start (impact.Outcome.Problems, as
// envinit check prints them), the commands that fix them, one hint each,
// in order, once each: a key no start accepts is unset, a name listed in
// __sensitive that is no key is taken off it, a literal "#{" is stored
// with --literal, a missing key is found.
func Fixes(problems []error) []string {
	var out []string
	seen := map[string]bool{}
	add := func(format string, args ...any) {
		if h := fmt.Sprintf(format, args...); !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	for _, p := range problems {
		var ke *resolve.KeyError
		var se *resolve.SyntaxError
		var me *resolve.MissingError
		switch {
		case errors.As(p, &ke) && strings.HasPrefix(ke.Where, "$"):
			alias, special, _ := strings.Cut(strings.TrimPrefix(ke.Where, "$"), "/")
			t := Target{Alias: alias}
			switch {
			case !resolve.ValidAlias(alias):
			case special == resolve.SensitiveKey && dotenv.ValidName(ke.Key):
				add("%s lists %s: envinit secrets unset %s takes it off", ke.Where, ke.Key, targetArgs(t, ke.Key))
			case special == "":
				add("%s/%s: envinit secrets unset %s removes it (envinit secrets get %s shows it first)", ke.Where, ke.Key, targetArgs(t, ke.Key), targetArgs(t, ke.Key))
			}
		case errors.As(p, &se) && !strings.HasSuffix(se.Where, resolve.ImportKey):
			add(`%s: a "#{" that is no reference: envinit secrets set --literal stores a value exactly as given`, se.Where)
		case errors.As(p, &me):
			_, key, _ := strings.Cut(me.Ref, "/")
			add("%s: envinit secrets find %s shows where %s is defined and what references it", me.Ref, shellWord(key), key)
		}
	}
	return out
}
