package waf

import "strings"

// encDot and encSep are a percent-encoded dot and path separator, in any
// number of encoding rounds (%252e), overlong UTF-8 (%c0%ae) or IIS %u
// form, as they appear in the raw request.
const (
	encDot = `%(?:25)*2e|%(?:25)*c0%(?:25)*ae|%(?:25)*e0%(?:25)*80%(?:25)*ae|%(?:25)*u(?:002e|ff0e|2024)`
	encSep = `%(?:25)*(?:2f|5c)|%(?:25)*c0%(?:25)*af|%(?:25)*c1%(?:25)*9c|%(?:25)*e0%(?:25)*80%(?:25)*af|%(?:25)*u(?:2215|2216|002f|005c|ff0f|ff3c)`
)

var traversalRules = []*rule{
	{
		Rule: Rule{ID: 3001, Family: FamilyTraversal, Severity: Critical, Description: `../ segments that climb into a path, in any encoding: ../../etc, ..\win.ini, ....//x`},
		lit:  "..",
		need: cDot,
		fn:   func(v *value) bool { n, into := dotDotSegments(v.norm); return n >= 2 || into },
	},
	{
		Rule: Rule{ID: 3002, Family: FamilyTraversal, Severity: Warning, Description: "a lone ../ segment, as prose about relative links has"},
		lit:  "..",
		need: cDot,
		fn:   func(v *value) bool { n, into := dotDotSegments(v.norm); return n == 1 && !into },
	},
	{
		Rule: Rule{ID: 3009, Family: FamilyTraversal, Severity: Critical, Description: "uploaded file name with a path: ../shell.php, /etc/cron.d/x"},
		locs: locFilename,
		any:  cSlash | cBackslash,
		fn: func(v *value) bool {
			return strings.Contains(v.norm, "..") || strings.HasPrefix(v.norm, "/") || strings.HasPrefix(v.norm, `\`)
		},
	},
	{
		Rule: Rule{ID: 3003, Family: FamilyTraversal, Severity: Critical, Description: "dot sent percent-encoded, overlong or as %u next to another dot: %2e%2e, .%2e, %c0%ae."},
		lits: []string{"%2e", "%2E", "%25", "%c0", "%C0", "%e0", "%E0", "%u", "%U"},
		raw:  true,
		need: cPercent,
		re:   re(`(?i)(?:` + encDot + `)(?:` + encDot + `|\.)|\.(?:` + encDot + `)`),
	},
	{
		Rule: Rule{ID: 3004, Family: FamilyTraversal, Severity: Critical, Description: "../ with the slash percent-encoded in the path: ..%2f, ..%5c"},
		raw:  true,
		locs: locPath,
		need: cPercent | cDot,
		re:   re(`(?i)\.\.(?:` + encSep + `)`),
	},
	{
		Rule: Rule{ID: 3005, Family: FamilyTraversal, Severity: Critical, Description: "path to a system file: /etc/passwd, /proc/self/environ, win.ini, .ssh/id_rsa, WEB-INF/web.xml"},
		kw:   kwFile,
		any:  cSlash | cBackslash,
		fn:   systemFile,
	},
	{
		Rule: Rule{ID: 3006, Family: FamilyTraversal, Severity: Critical, Description: "PHP stream wrapper: php://filter, phar://, zip://, expect://"},
		kw:   kwWrapper,
		need: cColon | cSlash,
		re:   re(`\b(?:php|phar|zip|expect|glob|compress\.zlib|compress\.bzip2|ogg|rar|zlib|ssh2\.\w+)://?`),
	},
	{
		Rule: Rule{ID: 3007, Family: FamilyTraversal, Severity: Critical, Description: "NUL byte, which truncates a path in C-based code"},
		fn:   func(v *value) bool { return v.flags&fNUL != 0 },
	},
	{
		Rule: Rule{ID: 3008, Family: FamilyTraversal, Severity: Critical, Description: "request for a hidden file or directory (but /.well-known/) or a backup: /.env, /.git/, /.claude/, /WEB-INF/, *.bak"},
		fn:   hiddenFileCandidate,
		locs: locPath,
		need: cDot,
		re:   re(`(?:^|/)\.[a-z0-9_-]|(?:^|/)(?:web|meta)-inf(?:/|$)|\.(?:bak|backup|old|orig|save|swp|sqlite|mdb|env)$|~$`),
	},
	{
		Rule: Rule{ID: 3021, Family: FamilyTraversal, Severity: Notice, Paranoia: 2, Description: "mention of a system file anywhere in a value"},
		kw:   kwFile,
		any:  cSlash | cBackslash,
		locs: locArgs,
		re:   systemFileRE,
	},
}

var rfiRules = []*rule{
	{
		Rule: Rule{ID: 3101, Family: FamilyRFI, Severity: Critical, Description: "URL of an IP address, localhost or a cloud metadata host in a parameter"},
		locs: locArgs,
		need: cSlash,
		re: re(`^\s*(?:(?:https?|ftps?|gopher|dict|ldaps?|tftp|smb|jar:https?|file):)?[/\\]{2,}(?:[^/@\s]*@)?` +
			`(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}|0x[0-9a-f]{1,8}|0[0-7]{5,}|\d{8,10}|127(?:\.\d{1,3}){0,2}|localhost|metadata(?:\.google\.internal)?|0)(?::\d+)?(?:[/?#\\]|$)`),
	},
	{
		Rule: Rule{ID: 3102, Family: FamilyRFI, Severity: Critical, Description: "remote URL ending in ? (a script's also in # or an empty parameter) to cut off or absorb what the code appends"},
		locs: locArgs,
		need: cSlash,
		any:  cOther | cHash,
		re:   re(`^\s*(?:(?:https?|ftps?):)?[/\\]{2,}[^\s?#]+(?:\?+$|\?\?|\?&|\.(?:txt|php\d?|phtml|inc|sh|pl|py|jsp|aspx?)(?:#|\?[^#\s]*=)$)`),
	},
	{
		Rule: Rule{ID: 3103, Family: FamilyRFI, Severity: Critical, Description: "remote URL in a parameter that names a file to include: page=, file=, include=, template="},
		locs: locArgs,
		any:  cSlash | cBackslash,
		fn:   includeParam,
	},
	{
		Rule: Rule{ID: 3104, Family: FamilyRFI, Severity: Warning, Description: "remote URL of a script or text file"},
		locs: locArgs,
		need: cSlash | cDot,
		re:   re(`^\s*(?:(?:https?|ftps?):)?[/\\]{2,}[^?#\s]+\.(?:txt|php\d?|phtml|inc|sh|pl|py|cgi|jsp|aspx?|exe|jar|ps1|bat|dll|so)(?:[?#].*)?$`),
	},
	{
		Rule: Rule{ID: 3105, Family: FamilyRFI, Severity: Critical, Description: "URL of a scheme used to reach internal services or run code: gopher://, dict://, jar:, data://, \\\\host\\share"},
		any:  cColon | cBackslash,
		locs: locArgs,
		re: re(`^\s*(?:(?:gopher|dict|ldaps?|tftp|jar|netdoc|sftp|data)://|jar:|data:(?:text/(?:plain|x-php)|application/(?:x-)?(?:php|httpd-php|octet-stream))[;,]|\\\\[\w.-]+\\|` +
			`file://[\w.-]+/)`),
	},
}

// hiddenFileCandidate is the prefilter of rule 3008: a path with "/.",
// "-inf" or "~", or one that ends in an extension of the rule.
func hiddenFileCandidate(v *value) bool {
	p := v.norm
	for i := strings.Index(p, "/."); i >= 0; {
		rest := p[i+2:]
		if rest != "" && rest[0] != '.' && rest[0] != '/' && rest != "well-known" && !strings.HasPrefix(rest, "well-known/") {
			return true
		}
		k := strings.Index(rest, "/.")
		if k < 0 {
			break
		}
		i += 2 + k
	}
	if strings.Contains(p, "-inf") || strings.HasSuffix(p, "~") {
		return true
	}
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return false
	}
	switch p[i+1:] {
	case "bak", "backup", "old", "orig", "save", "swp", "sqlite", "mdb", "env":
		return true
	}
	return false
}

// dotDotSegments counts the ".." segments in s: runs of two or more dots
// that start the value or follow a separator ('/', '\\', '=', ':', a space
// or a quote) and that end it or come before '/', '\\' or ';'. into
// reports that a segment is followed by a name, as in ../etc, rather than
// by a space or the end, as in prose ("use ../ to go up").
func dotDotSegments(s string) (n int, into bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '.' || s[i+1] != '.' || i > 0 && s[i-1] == '.' {
			continue
		}
		j := i + 2
		for j < len(s) && s[j] == '.' {
			j++
		}
		before := i == 0 || strings.IndexByte("/\\=: \n'\"", s[i-1]) >= 0
		after := j == len(s) || s[j] == '/' || s[j] == '\\' || s[j] == ';'
		if before && after {
			n++
			k := j
			for k < len(s) && (s[k] == '/' || s[k] == '\\' || s[k] == ';') {
				k++
			}
			if k > j && k < len(s) && s[k] != ' ' && s[k] != '\n' {
				into = true
			}
		}
		i = j - 1
	}
	return n, into
}

// systemFileRE matches the path of a system or secret file.
var systemFileRE = re(`(?:^|[/\\])(?:etc[/\\]+(?:\.?[/\\]+)*(?:passwd|master\.passwd|shadow|group|gshadow|subuid|subgid|hosts|issue|hostname|motd|crontab|cron\.d|sudoers|fstab|profile|bashrc|environment|shells|security[/\\]|resolv\.conf|(?:nginx|apache2?|httpd|mysql|php\d*|ssh|ssl|redis|postgresql|kubernetes)(?:[/\\]|$))|` +
	`proc[/\\]+(?:self|\d+|version|cpuinfo|meminfo|mounts|net|interrupts|cmdline|environ)(?:[/\\]|$)|sys[/\\]+(?:class|kernel|devices|firmware)(?:[/\\]|$)|` +
	`\.(?:docker|kube|gnupg)[/\\]|\.(?:git-credentials|mysql_history|psql_history|pgpass|netrc)\b|` +
	`(?:windows|winnt)[/\\]+(?:win\.ini|system\.ini|system32|repair|debug|panther|php\.ini)|` +
	`boot\.ini|win\.ini|system\.ini|system32[/\\]+(?:config|drivers)|\.ssh[/\\]+(?:id_\w+|authorized_keys|known_hosts)|\.htpasswd|\.htaccess|` +
	`web-inf[/\\]+(?:web\.xml|classes|lib)|\.aws[/\\]+credentials|var[/\\]+log[/\\]|\.bash_history|\.git[/\\]+(?:config|head)|usr[/\\]+local[/\\]+etc[/\\]|` +
	`\.env(?:$|[./])|wp-config\.php|config[/\\]+database\.yml|\.npmrc|\.docker[/\\]+config\.json|id_rsa)`)

// systemFile reports a value that is a path (it starts like one, or
// climbs with ..) to a system or secret file. Prose that mentions
// /etc/hosts is not a path.
func systemFile(v *value) bool {
	if v.loc != locPath && !pathLike(v.norm) {
		return false
	}
	return systemFileRE.MatchString(v.norm)
}

// pathLike reports whether s starts like a file path or URL of one, or
// has a .. segment.
func pathLike(s string) bool {
	t := strings.TrimLeft(s, " \n'\"")
	if t == "" {
		return false
	}
	switch c := t[0]; {
	case c == '/' || c == '\\' || c == '.' || c == '~':
		return true
	case len(t) > 2 && 'a' <= c && c <= 'z' && t[1] == ':' && (t[2] == '/' || t[2] == '\\'):
		return true
	case strings.HasPrefix(t, "file:"):
		return true
	}
	return strings.Contains(s, "../") || strings.Contains(s, `..\`)
}

// includeParams are the names of parameters that name a file or page to
// load, which RFI targets.
var includeParams = []string{"page", "file", "filename", "include", "inc", "template", "tpl", "path", "load", "module", "mod",
	"document", "doc", "view", "content", "lang", "language", "style", "dir", "folder", "pg", "show", "require", "conf",
	"config", "layout", "skin", "theme", "plugin", "root", "prefix"}

// remoteSchemes are the schemes an include can fetch a file with.
var remoteSchemes = []string{"http://", "https://", "ftp://", "ftps://", "smb://", "//", `\\`}

// includeParam reports a remote URL in a parameter that names a file.
func includeParam(v *value) bool {
	t := strings.TrimLeft(v.norm, " ")
	remote := false
	for _, p := range remoteSchemes {
		if strings.HasPrefix(t, p) {
			remote = true
			break
		}
	}
	if !remote {
		return false
	}
	// The name's last word: "path" in mosConfig_absolute_path and in
	// _CONF[path].
	name := strings.TrimRight(v.name, "]")
	if k := strings.LastIndexAny(name, "_[.-"); k >= 0 {
		name = name[k+1:]
	}
	for _, p := range includeParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}
