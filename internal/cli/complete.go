package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Shells are the shells WriteCompletion writes a script for.
var Shells = []string{"bash", "zsh", "fish"}

// WriteCompletion writes the completion script of shell for the table:
// the exec form (its flags) and cmds, their actions, flags and the values
// of the flags and arguments that are a choice. Every script is generated
// from the table, so a new command, action, flag or value completes
// without an edit here.
//
// bash and zsh share the table as shell functions (sh syntax), each with
// its own driver; fish has its own complete commands.
func WriteCompletion[T any](w io.Writer, shell string, exec *Command[T], cmds []*Command[T]) error {
	nodes := walk(exec, cmds)
	var b strings.Builder
	switch shell {
	case "bash":
		b.WriteString(bashHeader)
		writeTable(&b, nodes)
		b.WriteString(bashDriver)
	case "zsh":
		b.WriteString(zshHeader)
		writeTable(&b, nodes)
		b.WriteString(zshDriver)
	case "fish":
		writeFish(&b, nodes)
	default:
		return fmt.Errorf("no completion for the shell %q", shell)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// node is a command as completion sees it: its path ("" for the exec
// form, "secrets set"), its actions, flags and argument choices.
type node struct {
	path, short string
	subs        []node // only the path, the last word and short are set
	flags       []*Flag
	args        []string // the choices of its first argument
	files       bool     // an argument may be a file or directory
}

func (n node) word() string { return n.path[strings.LastIndexByte(n.path, ' ')+1:] }

func walk[T any](exec *Command[T], cmds []*Command[T]) []node {
	top := node{path: "", flags: exec.AllFlags()}
	out := []node{top}
	var add func(c *Command[T]) node
	add = func(c *Command[T]) node {
		n := node{path: c.Name, short: c.Short, flags: c.AllFlags(), args: c.Args,
			files: strings.Contains(c.UsageLine, "FILE") || strings.Contains(c.UsageLine, "DIR")}
		for _, a := range c.Commands {
			n.subs = append(n.subs, add(a))
		}
		out = append(out, n)
		return n
	}
	for _, c := range cmds {
		out[0].subs = append(out[0].subs, add(c))
	}
	return out
}

// kind is what a flag's value completes to: its choices, a directory
// (Arg DIR), a file (Arg FILE), or anything, where nothing is offered (bash
// then offers file names).
func kind(f *Flag) []string {
	switch {
	case f.Values != nil:
		return f.Values
	case f.Arg == "DIR":
		return []string{"@dir"}
	case f.Arg == "FILE":
		return []string{"@file"}
	}
	return []string{"@any"}
}

// subPatterns are "CMD/WORD" for every action (command, for the exec
// form) of every node, quoted.
func subPatterns(nodes []node, quote func(string) string) []string {
	var out []string
	for _, n := range nodes {
		for _, s := range n.subs {
			out = append(out, quote(n.path+"/"+s.word()))
		}
	}
	return out
}

// valueArms groups the flags that take a value by what it completes to:
// for each kind (its words, in order of appearance), the "CMD --FLAG"
// patterns, quoted, of every command's flag of that kind.
func valueArms(nodes []node, quote func(string) string) (kinds []string, pats map[string][]string) {
	pats = map[string][]string{}
	for _, n := range nodes {
		for _, f := range n.flags {
			if f.IsSwitch() {
				continue
			}
			k := strings.Join(kind(f), " ")
			if _, ok := pats[k]; !ok {
				kinds = append(kinds, k)
			}
			pats[k] = append(pats[k], quote(n.path+" --"+f.Name))
		}
	}
	return kinds, pats
}

func quoteAll(words []string, quote func(string) string) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = quote(w)
	}
	return strings.Join(out, " ")
}

// help is the flag every command takes.
var help = &Flag{Name: "help", Usage: "show the usage"}

// sq quotes s for sh in single quotes.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeTable writes the table as four sh functions, which the bash and
// zsh drivers call:
//
//	_envinit_sub CMD WORD    succeeds if WORD is an action (a command for CMD "") of CMD
//	_envinit_subs CMD        CMD's actions, "WORD:description" a line
//	_envinit_flags CMD       CMD's flags, "--NAME:usage" a line
//	_envinit_value CMD FLAG  the flag's value: its choices a line each, or @file, @dir, @any;
//	                         fails for a switch or a flag CMD does not have
//	_envinit_args CMD        the choices of CMD's first argument, a line each
func writeTable(b *strings.Builder, nodes []node) {
	fmt.Fprintf(b, "_%s_sub() {\n\tcase \"$1/$2\" in\n\t%s) return 0 ;;\n\tesac\n\treturn 1\n}\n\n", Prog, strings.Join(subPatterns(nodes, sq), "|"))

	fmt.Fprintf(b, "_%s_subs() {\n\tcase $1 in\n", Prog)
	for _, n := range nodes {
		if len(n.subs) == 0 {
			continue
		}
		var lines []string
		for _, s := range n.subs {
			lines = append(lines, sq(s.word()+":"+s.short))
		}
		fmt.Fprintf(b, "\t%s) printf '%%s\\n' %s ;;\n", sq(n.path), strings.Join(lines, " "))
	}
	b.WriteString("\tesac\n}\n\n")

	fmt.Fprintf(b, "_%s_flags() {\n\tcase $1 in\n", Prog)
	for _, n := range nodes {
		var lines []string
		for _, f := range append(slices.Clone(n.flags), help) {
			lines = append(lines, sq("--"+f.Name+":"+f.Usage))
		}
		if n.path == "" {
			lines = append(lines, sq("--version:print the version"))
		}
		fmt.Fprintf(b, "\t%s) printf '%%s\\n' %s ;;\n", sq(n.path), strings.Join(lines, " "))
	}
	b.WriteString("\tesac\n}\n\n")

	// One case arm per kind of value, its patterns every command's flag
	// of that kind.
	kinds, pats := valueArms(nodes, sq)
	fmt.Fprintf(b, "_%s_value() {\n\tcase \"$1 $2\" in\n", Prog)
	for _, k := range kinds {
		fmt.Fprintf(b, "\t%s) printf '%%s\\n' %s ;;\n", strings.Join(pats[k], "|"), quoteAll(strings.Fields(k), sq))
	}
	b.WriteString("\t*) return 1 ;;\n\tesac\n}\n\n")

	fmt.Fprintf(b, "_%s_args() {\n\tcase $1 in\n", Prog)
	for _, n := range nodes {
		if len(n.args) > 0 {
			fmt.Fprintf(b, "\t%s) printf '%%s\\n' %s ;;\n", sq(n.path), quoteAll(n.args, sq))
		}
	}
	b.WriteString("\tesac\n}\n")
}

const bashHeader = `# bash completion for envinit, generated from its command table by
# "envinit completion bash". Load it in the current shell:
#   source <(envinit completion bash)
# or install it for every shell (bash-completion loads it on demand):
#   envinit completion bash > /usr/share/bash-completion/completions/envinit

`

// bashDriver completes COMP_WORDS[COMP_CWORD]. Readline splits
// --flag=value at "=" into three words: they are joined again first.
// Where it offers nothing (a flag's free value, an argument), -o default
// falls back to file names.
const bashDriver = `
_envinit_words() {
	local l
	while IFS= read -r l; do printf '%s\n' "${l%%:*}"; done
}

_envinit() {
	local -a words=()
	local i w n=0
	for ((i = 0; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((n > 1)) && [[ ${words[n-1]} == --* && ( $w == = || ${words[n-1]} == *= ) ]]; then
			words[n-1]+=$w
		else
			words[n++]=$w
		fi
	done
	local cur=${words[n-1]} cmd='' at=0 args=0 first='' dash=0
	for ((i = 1; i < n - 1; i++)); do
		w=${words[i]}
		case $w in
		--) dash=$i; break ;;
		--*=*) ;;
		-*) if _envinit_value "$cmd" "$w" >/dev/null; then ((i++)); fi ;;
		*)
			if ((i == at + 1 && args == 0)) && _envinit_sub "$cmd" "$w"; then
				cmd=${cmd:+$cmd }$w at=$i
			else
				if ((args == 0)); then first=$w; fi
				((args += 1))
			fi ;;
		esac
	done
	COMPREPLY=()
	local flag='' val=$cur v
	if ((dash)); then
		# After --: the exec form's COMMAND, then its arguments (files).
		if [[ -z $cmd ]] && ((n - 1 == dash + 1)); then
			mapfile -t COMPREPLY < <(compgen -c -- "$cur")
		fi
		return
	fi
	if [[ $cur == --*=* ]]; then
		flag=${cur%%=*} val=${cur#*=}
	elif ((n > 2)) && [[ ${words[n-2]} == -?* && ${words[n-2]} != *=* && ${words[n-2]} != -- ]]; then
		flag=${words[n-2]}
	fi
	if [[ -n $flag ]] && v=$(_envinit_value "$cmd" "$flag"); then
		case $v in
		@dir) mapfile -t COMPREPLY < <(compgen -d -- "$val") ;;
		@file) mapfile -t COMPREPLY < <(compgen -f -- "$val") ;;
		@any) ;;
		*) mapfile -t COMPREPLY < <(compgen -W "$v" -- "$val") ;;
		esac
		return
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_envinit_flags "$cmd" | _envinit_words)" -- "$cur")
	elif ((n - 1 == at + 1 && args == 0)) && [[ -n $(_envinit_subs "$cmd") ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_envinit_subs "$cmd" | _envinit_words)" -- "$cur")
	elif [[ $cmd == help ]] && ((args < 2)); then
		if ((args == 0)); then first=''; fi
		mapfile -t COMPREPLY < <(compgen -W "$(_envinit_subs "$first" | _envinit_words)" -- "$cur")
	elif ((args == 0)); then
		mapfile -t COMPREPLY < <(compgen -W "$(_envinit_args "$cmd")" -- "$cur")
	fi
}

complete -o default -F _envinit envinit
`

const zshHeader = `#compdef envinit
# zsh completion for envinit, generated from its command table by
# "envinit completion zsh". Load it in the current shell (after compinit):
#   source <(envinit completion zsh)
# or install it as _envinit in a directory of $fpath, before compinit runs:
#   envinit completion zsh > "${fpath[1]}/_envinit"

`

// zshDriver completes words[CURRENT], with descriptions.
const zshDriver = `
_envinit() {
	local cur=${words[CURRENT]} cmd='' at=1 args=0 first='' dash=0 i w
	for ((i = 2; i < CURRENT; i++)); do
		w=${words[i]}
		case $w in
		--) dash=$i; break ;;
		--*=*) ;;
		-*) if _envinit_value "$cmd" "$w" >/dev/null; then ((i++)); fi ;;
		*)
			if ((i == at + 1 && args == 0)) && _envinit_sub "$cmd" "$w"; then
				cmd=${cmd:+$cmd }$w at=$i
			else
				if ((args == 0)); then first=$w; fi
				((args += 1))
			fi ;;
		esac
	done
	local -a list
	local flag='' v
	if ((dash)); then
		# After --: the exec form's COMMAND and its arguments.
		if [[ -z $cmd ]]; then
			shift $dash words
			((CURRENT -= dash))
			_normal
		else
			_files
		fi
		return
	fi
	if [[ $cur == --*=* ]]; then
		flag=${cur%%=*}
		compset -P '*='
	elif ((CURRENT > 2)) && [[ ${words[CURRENT-1]} == -?* && ${words[CURRENT-1]} != *=* && ${words[CURRENT-1]} != -- ]]; then
		flag=${words[CURRENT-1]}
	fi
	if [[ -n $flag ]] && v=$(_envinit_value "$cmd" "$flag"); then
		case $v in
		@dir) _files -/ ;;
		@file) _files ;;
		@any) _message -e values "${flag#--} value" ;;
		*) list=(${(f)v}); compadd -a list ;;
		esac
		return
	fi
	if [[ $cur == -* ]]; then
		list=(${(f)"$(_envinit_flags "$cmd")"})
		_describe -t flags flag list
	elif ((CURRENT == at + 1 && args == 0)) && [[ -n $(_envinit_subs "$cmd") ]]; then
		list=(${(f)"$(_envinit_subs "$cmd")"})
		_describe -t commands command list
	elif [[ $cmd == help ]] && ((args < 2)); then
		((args == 0)) && first=''
		list=(${(f)"$(_envinit_subs "$first")"})
		_describe -t commands command list
	elif ((args == 0)) && [[ -n $(_envinit_args "$cmd") ]]; then
		list=(${(f)"$(_envinit_args "$cmd")"})
		compadd -a list
	else
		_files
	fi
}

if [[ $funcstack[1] == _envinit ]]; then
	_envinit "$@"
else
	compdef _envinit envinit
fi
`

// fq quotes s for fish in single quotes.
func fq(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// writeFish writes fish's completion: the table as fish functions, and a
// complete command per action, flag and argument choice, each under a
// condition on the command line before the cursor.
func writeFish(b *strings.Builder, nodes []node) {
	b.WriteString(fishHeader)
	fmt.Fprintf(b, "function __%s_sub\n    switch \"$argv[1]/$argv[2]\"\n        case %s\n            return 0\n    end\n    return 1\nend\n\n", Prog, strings.Join(subPatterns(nodes, fq), " "))

	fmt.Fprintf(b, "function __%s_subs\n    switch $argv[1]\n", Prog)
	for _, n := range nodes {
		if len(n.subs) == 0 {
			continue
		}
		var lines []string
		for _, s := range n.subs {
			lines = append(lines, fq(s.word()+"\t"+s.short))
		}
		fmt.Fprintf(b, "        case %s\n            printf '%%s\\n' %s\n", fq(n.path), strings.Join(lines, " "))
	}
	b.WriteString("    end\nend\n\n")

	kinds, pats := valueArms(nodes, fq)
	fmt.Fprintf(b, "function __%s_value\n    switch \"$argv[1] $argv[2]\"\n", Prog)
	for _, k := range kinds {
		fmt.Fprintf(b, "        case %s\n            printf '%%s\\n' %s\n", strings.Join(pats[k], " "), quoteAll(strings.Fields(k), fq))
	}
	b.WriteString("        case '*'\n            return 1\n    end\nend\n")
	b.WriteString(fishDriver)

	c := func(cond, rest string) { fmt.Fprintf(b, "complete -c %s -n %s %s\n", Prog, fq(cond), rest) }
	for _, n := range nodes {
		fmt.Fprintf(b, "\n# %s\n", strings.TrimSpace(Prog+" "+n.path))
		for _, s := range n.subs {
			c("__envinit_next_sub "+fq(n.path), "-a "+fq(s.word())+" -d "+fq(s.short))
		}
		in := "__envinit_in " + fq(n.path)
		for _, f := range append(slices.Clone(n.flags), help) {
			opt := "-l " + f.Name
			if !f.IsSwitch() {
				switch k := kind(f); k[0] {
				case "@dir":
					opt += " -x -a '(__fish_complete_directories)'"
				case "@file":
					opt += " -r -F"
				case "@any":
					opt += " -x"
				default:
					opt += " -x -a " + fq(strings.Join(k, " "))
				}
			}
			c(in, opt+" -d "+fq(f.Usage))
		}
		if n.path == "" {
			c(in, "-l version -d 'print the version'")
			c("__envinit_after_dash '' 0", "-a '(__fish_complete_command)'")
			c("__envinit_files_after_dash", "-F")
			continue
		}
		if len(n.args) > 0 {
			c("__envinit_arg "+fq(n.path)+" 0", "-a "+fq(strings.Join(n.args, " ")))
		}
		if n.files {
			c(in, "-F")
		}
		if n.path == "help" {
			c("__envinit_arg help 0", "-a '(__envinit_subs \"\")'")
			c("__envinit_arg help 1", "-a '(__envinit_help_actions)'")
		}
	}
}

const fishHeader = `# fish completion for envinit, generated from its command table by
# "envinit completion fish". Load it in the current shell:
#   envinit completion fish | source
# or install it:
#   envinit completion fish > ~/.config/fish/completions/envinit.fish

`

// fishDriver reads the command line before the cursor the way envinit
// parses it, and holds the conditions of the complete commands.
const fishDriver = `
# __envinit_state prints, for the words before the cursor: the command
# ("" for the exec form), then "dash" and how many words follow the --,
# or whether the next word may be an action ("next" or "arg"), how many
# arguments the command has and its first one.
function __envinit_state
    set -l words (commandline -opc)
    set -l cmd ''
    set -l at 1
    set -l args 0
    set -l first ''
    set -l i 2
    while test $i -le (count $words)
        set -l w $words[$i]
        switch $w
            case --
                printf '%s\n' $cmd dash (math (count $words) - $i)
                return
            case '--*=*'
            case '-*'
                if __envinit_value "$cmd" $w >/dev/null
                    set i (math $i + 1)
                end
            case '*'
                if test $i -eq (math $at + 1) -a $args -eq 0; and __envinit_sub "$cmd" $w
                    set cmd (string trim -- "$cmd $w")
                    set at $i
                else
                    test $args -eq 0; and set first $w
                    set args (math $args + 1)
                end
        end
        set i (math $i + 1)
    end
    set -l next arg
    if test (count $words) -eq $at -a $args -eq 0
        set next next
    end
    printf '%s\n' $cmd $next $args $first
end

function __envinit_in
    set -l s (__envinit_state)
    test "$s[1]" = "$argv[1]" -a "$s[2]" != dash
end

function __envinit_next_sub
    set -l s (__envinit_state)
    test "$s[1]" = "$argv[1]" -a "$s[2]" = next
end

function __envinit_arg
    set -l s (__envinit_state)
    test "$s[1]" = "$argv[1]" -a "$s[2]" != dash -a "$s[3]" = "$argv[2]"
end

# After --: the exec form's COMMAND, then files (its arguments, and docker
# build's).
function __envinit_after_dash
    set -l s (__envinit_state)
    test "$s[1]" = "$argv[1]" -a "$s[2]" = dash -a "$s[3]" = "$argv[2]"
end

function __envinit_files_after_dash
    set -l s (__envinit_state)
    test "$s[2]" = dash -a \( "$s[1]" != '' -o "$s[3]" != 0 \)
end

function __envinit_help_actions
    set -l s (__envinit_state)
    __envinit_subs $s[4]
end

complete -c envinit -f
`
