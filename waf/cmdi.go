package waf

import (
	"regexp"
	"strings"
)

var cmdiRules = []*rule{
	{
		Rule: Rule{ID: 4001, Family: FamilyCommand, Severity: Critical, Description: "shell command after a separator or in a substitution: ; cat /etc/passwd, | id, `id`, $(whoami), && curl"},
		any:  cSemi | cPipe | cAmp | cNewline | cBacktick | cDollar,
		fn:   commandInjection,
	},
	{
		Rule: Rule{ID: 4002, Family: FamilyCommand, Severity: Critical, Description: "Shellshock function definition: () { :; };, or a value that starts with one"},
		need: cParen | cBrace,
		re:   re(`\(\s*\)\s*\{.{0,60}?\}\s*;|^\s*\(\s*\)\s*\{`),
	},
	{
		Rule: Rule{ID: 4003, Family: FamilyCommand, Severity: Critical, Description: "reverse shell or download-and-run: /dev/tcp/, nc -e, bash -i, curl ... | sh, powershell -enc"},
		kw:   kwShell,
		re: re(`/dev/(?:tcp|udp)/|\b(?:nc|ncat|netcat)\b[^\n]{0,60}\s-[a-z]*e\s|\b(?:ba)?sh\s+-i\b|\bmkfifo\b|` +
			`\b(?:curl|wget)\b[^|;\n]{1,200}\|\s*(?:ba|z|da|k)?sh\b|\bpython[23]?\s+-c\s|\bperl\s+-e\s|\bphp\s+-r\s|\bruby\s+-e\s|` +
			`\bpowershell(?:\.exe)?\b[^\n]{0,80}(?:-e(?:nc|ncodedcommand)?\s|\biex\b|invoke-expression|downloadstring|\biwr\b|invoke-webrequest)|` +
			`\bcertutil(?:\.exe)?\b[^\n]{0,40}-urlcache|\bbase64\s+(?:-d|--decode)\b|/bin/(?:ba|z|da|k|c|tc)?sh\s+-c\b|\bcmd(?:\.exe)?\s+/[ck]\s|` +
			`>>?\s*~?/?[\w/.]*\.ssh/authorized_keys|\bchmod\s+[+0-7]*x?\s+/tmp/|` +
			`\binvoke-(?:webrequest|expression|restmethod|wmimethod|command|item)\b|\b(?:iex|iwr|irm|iwmi)\b\s*[\s(]|` +
			`\bnew-object\s+(?:system\.)?net\.webclient|\bstart-process\b|\bdownload(?:string|file)\s*\(|` +
			`\b(?:ba|z|k|c|tc|da|fi|a)?sh\s+-c\s|\$\{?shell\}?\s+-c\b|\bpython[23]?\s+-m\s`),
	},
	{
		Rule: Rule{ID: 4006, Family: FamilyCommand, Severity: Critical, Description: "shell process substitution or batch FOR loop: <(cmd), >(tee x), FOR %a IN (...) DO"},
		need: cParen,
		lits: []string{"<(", ">(", "for"},
		re:   re(`(?:^|[\s;|&])[<>]\(\s*[a-z/]|\bfor\s+(?:/[dflr]\b[^%\n]{0,80})?%%?[\w~@\[\]/-]*\s+in\s*\(.*\)\s*do\b`),
	},
	{
		Rule: Rule{ID: 4010, Family: FamilyCommand, Severity: Critical, Description: "Windows batch IF statement: IF EXIST x ECHO, IF %a%==b GOTO, IF ERRORLEVEL 1 CMD, IF /I x NEQ y CALL"},
		locs: locArgs | locHeader,
		fn:   batchIfCandidate,
		re:   batchIf,
	},
	{
		Rule: Rule{ID: 4007, Family: FamilyCommand, Severity: Critical, Description: "server-side include directive: <!--#exec cmd=, <!--#include"},
		need: cLt | cHash,
		re:   re(`<!--\s*#\s*(?:exec|include|echo|set|config|printenv|fsize|flastmod)\b`),
	},
	{
		Rule: Rule{ID: 4008, Family: FamilyCommand, Severity: Critical, Description: "command line in a parameter named for one: cmd=ls -la /, exec=cat /etc/passwd"},
		locs: locArgs,
		fn:   commandParam,
	},
	{
		Rule: Rule{ID: 4009, Family: FamilyCommand, Severity: Critical, Description: "Log4Shell JNDI lookup, nested lookups undone: ${jndi:ldap://...}, ${${lower:j}ndi:...}"},
		need: cDollar | cBrace,
		fn:   jndiLookup,
	},
	{
		Rule: Rule{ID: 4011, Family: FamilyCommand, Severity: Critical, Description: "value that starts with a command run on a system file: cat /etc/passwd, ls -l /etc/shadow, type c:\\windows\\win.ini"},
		locs: locArgs,
		kw:   kwFile,
		any:  cSlash | cBackslash,
		fn:   commandOnFile,
	},
	{
		Rule: Rule{ID: 4021, Family: FamilyCommand, Severity: Warning, Paranoia: 2, Description: "value that starts with a command and a shell-like argument: ls -la /, cat /etc/hosts"},
		locs: locArgs,
		fn:   func(v *value) bool { return commandAt(strings.TrimLeft(v.s.shellForm(v.norm), " "), true) },
	},
	{
		Rule: Rule{ID: 4004, Family: FamilyCommand, Severity: Critical, Description: "shell evasion: $IFS for a space, $@ inside a word, arithmetic $((...)) and $[...], ${VAR:0:1} and other expansions, brace lists with an empty word {,id}"},
		any:  cDollar | cBrace,
		re: re(`\$\{?ifs\b|[a-z]\$[@*][a-z]|\$\(\(|\$\[|\$\{[a-z_]\w*(?::\d|#|%|//?|\^|,)|` +
			`(?:^|[\s;|&])\{,[\w./-]+(?:,[\w./-]*)*\}|(?:^|[\s;|&])\{[\w./-]+,\}`),
	},
	{
		Rule: Rule{ID: 4005, Family: FamilyCommand, Severity: Critical, Description: "path written with shell globs: /???/c?t, /e??/p?ss??, /bin/c[a]t"},
		need: cSlash,
		any:  cOther | cBracket,
		fn:   globPath,
	},
}

// batchIf matches cmd.exe's IF statement where a command starts (the
// start of the value, after a separator, DO or ELSE): a condition only
// batch files write (EXIST, DEFINED, ERRORLEVEL, CMDEXTVERSION, the
// comparison words EQU NEQ LSS LEQ GTR GEQ, or a == between two operands)
// and then the command it guards. EXIST and DEFINED, which are also words,
// need a built-in command or a '(' after their operand; so does a == of
// two plain words, unless the /I switch or an operand in batch style
// ("%1", [%1], !var!) says it is batch ("if a == b and c" is prose, and
// Python's "if a == b:" ends with a ':').
var batchIf = func() *regexp.Regexp {
	const (
		quoted = `(?:"[^"\n]{0,60}"|\([^)\n]{0,60}\)|\[[^\]\n]{0,60}\]|\{[^}\n]{0,60}\})`
		vars   = `[^\s=()"\[\]{}]{0,60}[%!][^\s=()"\[\]{}]{0,60}`
		word   = `[^\s=()"\[\]{}]{1,60}`
		wordR  = `[^\s=()"\[\]{}]{0,59}[^\s=()"\[\]{}:]`
		op     = `(?:` + quoted + `|` + word + `)`
		opR    = `(?:` + quoted + `|` + wordR + `)`
		batchy = `(?:` + quoted + `|` + vars + `)`
		eq     = `\s*==+\s*`
		cmd    = `\s+[@(a-z]`
		verb   = `\s+(?:[@(]|(?:echo|set|goto|call|cmd|start|exit|del|erase|copy|move|type|cd|chdir|md|mkdir|rd|rmdir|ren|rename|pause|shift|for|if|pushd|popd|cls|title|color|ver|vol|path|setlocal|endlocal)\b)`
	)
	return re(`(?:^|[;&|\n]\s*|\b(?:do|else)\s+)@?if(?:` +
		`\s*/i\b(?:\s+not\b)?\s+` + op + eq + opR + cmd + `|` +
		`(?:\s*/i\b)?(?:\s+not\b)?\s+(?:` +
		`(?:exist|defined)\s+` + op + verb + `|` +
		`(?:errorlevel|cmdextversion)\s+\d+\s+\S|` +
		batchy + eq + opR + cmd + `|` + op + eq + `(?:` + quoted + `|` + vars + `)` + cmd + `|` + op + eq + opR + verb + `|` +
		`[^\n]{0,80}\s(?:equ|neq|lss|leq|gtr|geq)\s+\S+\s+\S))`)
}()

// batchIfCandidate is the prefilter of batchIf: the word "if", and a
// batch condition word or "==", and not BASIC's or Lua's "then".
func batchIfCandidate(v *value) bool {
	kw := v.keywords()
	return kw&kwIf != 0 && (kw&kwBatch != 0 || strings.Contains(v.norm, "==")) && !strings.Contains(v.norm, " then")
}

// Kinds of command in commandInjection.
const (
	cmdStrong = iota + 1 // a program name that is not an English word: any argument
	cmdAmbig             // a command that is also a word: needs a shell-like argument
	cmdFunc              // a function that runs a command: needs a '('
)

type command struct {
	kind    uint8
	alone   bool     // may end the value: "; id"
	numeric bool     // takes a number: "; sleep 5"
	words   []string // argument words that make it a command: "net user"
}

// commands are the programs and functions commandInjection looks for.
var commands = map[string]command{}

func init() {
	for _, c := range strings.Fields(`whoami uname wget curl bash zsh ksh csh tcsh ncat netcat busybox chmod chown mkfifo nslookup
		ifconfig ipconfig netstat useradd usermod base64 tftp telnet sudo nohup crontab powershell pwsh certutil bitsadmin
		systeminfo tasklist taskkill wmic socat xterm uptime lsb_release getent sysctl dmesg lsof traceroute tracert printenv
		echo hostname passwd`) {
		commands[c] = command{kind: cmdStrong, alone: true}
	}
	for _, c := range strings.Fields(`id ls ps pwd env w who sh`) {
		commands[c] = command{kind: cmdAmbig, alone: true}
	}
	for _, c := range strings.Fields(`sleep ping kill timeout`) {
		commands[c] = command{kind: cmdAmbig, numeric: true}
	}
	for _, c := range strings.Fields(`cat nc rm find type dir head tail more less grep cp mv touch mkdir ln cd export source
		printf dig host ssh scp ftp cmd reg del copy python python2 python3 perl php ruby node awk sed xargs chgrp tar unzip nmap
		exec eval set gcc cc c89 c99 irb gdb strace ltrace perf rmt flock cpulimit nohup time tee nl tac od xxd strings dd
		column fold comm bridge zcat bzcat zstdcat xzcat gawk mawk nawk lua tclsh openssl socat tcpdump mysql psql sqlite3
		redis-cli docker kubectl systemctl service pkill killall mount chroot nsenter unshare taskset stdbuf vi vim ed`) {
		commands[c] = command{kind: cmdAmbig}
	}
	commands["net"] = command{kind: cmdAmbig, words: []string{"user", "localgroup", "view", "share", "use", "start", "stop", "session", "group", "accounts"}}
	commands["ps"] = command{kind: cmdAmbig, alone: true, words: []string{"aux", "ef", "axjf", "auxww"}}
	commands["reg"] = command{kind: cmdAmbig, words: []string{"add", "query", "delete", "save", "export"}}
	for _, c := range strings.Fields(`system passthru shell_exec popen proc_open pcntl_exec exec eval assert`) {
		commands[c+"("] = command{kind: cmdFunc}
	}
}

// commandInjection looks for a command in the position a shell runs one:
// after ; | || & && or a newline, or inside `...` or $(...). The value
// is first undone of the usual evasions: quotes inside words (c'a't),
// backslashes (c\at), $@, ${IFS} and brace lists ({cat,/etc/passwd}).
func commandInjection(v *value) bool {
	sh := v.s.shellForm(v.norm)
	for i := 0; i < len(sh); i++ {
		strict := false
		switch c := sh[i]; {
		case c == ';' || c == '|' || c == '&' || c == '`':
		case c == '\n':
			// A line break in a text is also where sentences start.
			strict = true
		case c == '$' && i+1 < len(sh) && sh[i+1] == '(':
			i++
			if substitution(sh[i+1:]) {
				return true
			}
		default:
			continue
		}
		j := i + 1
		for j < len(sh) && strings.IndexByte(" |&;(!\n", sh[j]) >= 0 {
			j++
		}
		if commandAt(sh[j:], strict) {
			return true
		}
	}
	return false
}

// commandAt reports whether s starts with a command and an argument that
// make it one.
func commandAt(s string, strict bool) bool {
	k := 0
	for k < len(s) && isCommandByte(s[k]) {
		k++
	}
	if k == 0 {
		return false
	}
	tok := s[:k]
	if c := tok[0]; c == '/' || c == '.' || c == '~' {
		tok = tok[strings.LastIndexByte(tok, '/')+1:]
	}
	tok = strings.TrimSuffix(tok, ".exe")
	rest := s[k:]
	if strings.HasPrefix(strings.TrimLeft(rest, " "), "(") {
		if c, ok := commands[tok+"("]; ok && c.kind == cmdFunc {
			return true
		}
	}
	c, ok := commands[tok]
	if !ok {
		return false
	}
	if rest != "" && (rest[0] == '<' || rest[0] == '>') {
		return true // cat</etc/passwd
	}
	if rest != "" && rest[0] != ' ' && strings.IndexByte(";|&\n`)", rest[0]) < 0 {
		return false // part of a longer word or a file name: "id.", "cat's"
	}
	arg := strings.TrimLeft(rest, " ")
	if arg == "" || strings.IndexByte(";|&\n`)", arg[0]) >= 0 {
		return c.alone
	}
	switch a := arg[0]; {
	case a == '-' || a == '/' || a == '.' || a == '~' || a == '$' || a == '>' || a == '<' || a == '*' || a == '\\':
		return true
	case len(arg) > 2 && 'a' <= a && a <= 'z' && arg[1] == ':' && (arg[2] == '\\' || arg[2] == '/'):
		return true // dir c:\
	case '0' <= a && a <= '9':
		return c.numeric || c.kind == cmdStrong
	}
	for _, w := range c.words {
		if strings.HasPrefix(arg, w) && (len(arg) == len(w) || !isIdent(arg[len(w)])) {
			return true
		}
	}
	return c.kind == cmdStrong && !strict
}

// jsDollar are the words that follow "$(" in jQuery code, not in a shell.
var jsDollar = map[string]bool{"document": true, "this": true, "window": true, "function": true, "self": true,
	"jquery": true, "e": true, "el": true, "elem": true, "element": true, "event": true, "selector": true}

// substitution reports a command substitution, "$(" then a word (any
// command, not only the known ones; jQuery's "$(document)" excepted) and
// the end of the substitution or an argument.
func substitution(s string) bool {
	s = strings.TrimLeft(s, " (")
	k := 0
	for k < len(s) && isCommandByte(s[k]) {
		k++
	}
	if k == 0 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] == '/') || jsDollar[s[:k]] {
		return false
	}
	return k == len(s) || strings.IndexByte(" )$;|&`<>", s[k]) >= 0
}

func isCommandByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '/' || c == '~' || c == '-'
}

// shellForm returns s undone of shell quoting tricks, in the scan's
// buffer: quotes and backslashes inside words dropped, $@ and $* dropped,
// ${IFS...} and $IFS$9 made spaces, braces and the commas of a brace list made spaces.
func (s *scan) shellForm(in string) string {
	if classes(in)&(cQuote|cDquote|cBackslash|cDollar|cBrace) == 0 {
		return in // nothing to undo
	}
	b := s.shell[:0]
	braces := 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch c {
		case '\'', '"':
			continue
		case '\\':
			// Inside a word, as in c\at; not in c:\windows.
			if i > 0 && i+1 < len(in) && isLetter(in[i-1]) && isLetter(in[i+1]) {
				continue
			}
		case '$':
			rest := in[i+1:]
			switch {
			case strings.HasPrefix(rest, "@") || strings.HasPrefix(rest, "*"):
				i++
				continue
			case strings.HasPrefix(rest, "{ifs"):
				if j := strings.IndexByte(rest, '}'); j >= 0 {
					b = append(b, ' ')
					i += j + 1
					continue
				}
			case strings.HasPrefix(rest, "ifs"):
				b = append(b, ' ')
				i += 3
				if i+2 < len(in) && in[i+1] == '$' && '0' <= in[i+2] && in[i+2] <= '9' {
					i += 2
				}
				continue
			}
		case '{':
			c = ' '
			braces++
		case '}':
			c = ' '
			if braces > 0 {
				braces--
			}
		case ',':
			if braces > 0 {
				c = ' ' // a brace list: {cat,/etc/passwd}
			}
		}
		b = append(b, c)
	}
	s.shell = b
	return bytesString(b)
}

// globPath reports a path of two or more components written with the
// shell's wildcards to dodge a filter: two or more '?' (not a query
// string's), or a [...] class. '*' does not count: "/static/**/*.js" is a
// glob people write about.
func globPath(v *value) bool {
	s := v.norm
	for i := 0; i < len(s); i++ {
		if s[i] != '/' || i > 0 && strings.IndexByte(" \n;|&`(=\"'", s[i-1]) < 0 {
			continue
		}
		j := i
		for j < len(s) && (isIdent(s[j]) || strings.IndexByte("/.?*[]!-", s[j]) >= 0) {
			j++
		}
		tok := s[i:j]
		i = j
		if strings.Count(tok, "/") < 2 {
			continue
		}
		q := 0
		for k := 0; k < len(tok); k++ {
			switch tok[k] {
			case '?':
				// A query string: "?name=".
				if k+1 < len(tok) && isIdent(tok[k+1]) && strings.IndexByte(s[i-len(tok)+k:], '=') > 0 {
					continue
				}
				q++
			case '[':
				if e := strings.IndexByte(tok[k:], ']'); e > 1 && e <= 12 && !strings.Contains(tok[k:k+e], "/") {
					return true
				}
			}
		}
		if q >= 2 {
			return true
		}
	}
	return false
}

// commandParams are the names of parameters that web shells and
// vulnerable tools pass to a shell.
var commandParams = map[string]bool{"cmd": true, "command": true, "exec": true, "execute": true, "run": true, "shell": true,
	"system": true, "sh": true, "bash": true, "process": true, "cli": true, "rce": true, "c": true}

// commandParam reports a value that starts with a command and a shell-like
// argument in a parameter named for a command. Elsewhere a value that
// starts like "cat food" or "ls vs dir" is left alone.
func commandParam(v *value) bool {
	name := strings.ToLower(v.name)
	if k := strings.LastIndexAny(name, "_[.-"); k >= 0 {
		name = strings.TrimRight(name[k+1:], "]")
	}
	if !commandParams[name] {
		return false
	}
	sh := v.s.shellForm(v.norm)
	return commandAt(strings.TrimLeft(sh, " "), false)
}

// commandOnFile reports a value that is one command line, a known
// command and only options and paths after it, that names a system file:
// "cat /etc/passwd", not "cat /etc/hosts windows equivalent".
func commandOnFile(v *value) bool {
	sh := strings.TrimLeft(v.s.shellForm(v.norm), " ")
	if !commandAt(sh, false) || !systemFileRE.MatchString(sh) {
		return false
	}
	args := sh[strings.IndexByte(sh, ' ')+1:]
	for args != "" {
		arg, rest, _ := strings.Cut(args, " ")
		if arg != "" && !strings.ContainsAny(arg[:1], "-/.~$\\") && !strings.ContainsAny(arg, "/\\") {
			return false
		}
		args = rest
	}
	return true
}

// jndiLookup reports a JNDI lookup in a Log4j message pattern, with the
// nested lookups that hide it (${lower:j}, ${::-n}, ${env:X:-d}) undone.
func jndiLookup(v *value) bool {
	s := v.norm
	i := strings.Index(s, "${")
	if i < 0 {
		return false
	}
	if strings.Contains(s, "jndi:") {
		return true
	}
	s = s[i:]
	if len(s) > 512 {
		s = s[:512]
	}
	r := strings.NewReplacer("${", "", "}", "", "lower:", "", "upper:", "", "::-", "", ":-", "", "env:", "", "sys:", "", "date:", "", "main:", "")
	return strings.Contains(r.Replace(s), "jndi:")
}
