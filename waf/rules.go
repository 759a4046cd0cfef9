package waf

import (
	"regexp"
	"slices"
	"strings"
)

// location is the part of a request a value came from; a rule applies to
// a set of them.
type location uint16

const (
	locPath location = 1 << iota
	locQueryName
	locQueryValue
	locHeader
	locCookieName
	locCookieValue
	locFormName
	locFormValue
	locJSONKey
	locJSONValue
	locPartValue // a multipart text field
	locFilename  // a multipart file name
	locBody      // a whole body of another text type
	numLocations = iota

	// locNames are the names of parameters and cookies and JSON keys.
	locNames = locQueryName | locCookieName | locFormName | locJSONKey
	// locArgs are the values a client chooses: parameters, cookies,
	// fields and bodies.
	locArgs = locQueryValue | locCookieValue | locFormValue | locJSONValue | locPartValue | locBody
	// locAll is every place.
	locAll = locPath | locNames | locArgs | locHeader | locFilename
)

// value is one value of a request, as the rules see it.
type value struct {
	loc   location
	name  string // the parameter, header, cookie or key name, for Match.Where
	raw   string
	norm  string // the normal form; aliases the scan's buffer
	mask  uint32 // byte classes of norm (a superset)
	flags uint16
	s     *scan // for the lazily built forms

	rawMask     uint32
	rawMaskDone bool
	isProse     int8 // 0 unknown, 1 yes, -1 no
	kw          uint64
	kwDone      bool
}

// keywords returns the keyword bits of the words of the value.
func (v *value) keywords() uint64 {
	if !v.kwDone {
		v.kw = keywordBits(v.norm)
		v.kwDone = true
	}
	return v.kw
}

// Keyword bits: the prefilter of the rules whose expressions need one of
// a set of words. A value's words are looked up once, and a rule runs only
// if the value has a word of its set.
const (
	kwUnion uint64 = 1 << iota
	kwSleep
	kwCatalog
	kwOrder
	kwFunc
	kwStack
	kwJS
	kwCSS
	kwFile
	kwWrapper
	kwShell
	kwServerJS
	kwSQLOp
	kwBool
	kwSelect
	kwWhen
	kwScript
	kwData
	kwIf
	kwBatch
)

// keywordIndex maps a word to its keyword bits.
var keywordIndex = map[string]uint64{}

func keyword(bits uint64, words string) {
	for _, w := range strings.Fields(words) {
		keywordIndex[w] |= bits
	}
}

func init() {
	keyword(kwUnion, "union")
	keyword(kwSleep, "sleep benchmark pg_sleep waitfor dbms_pipe dbms_lock")
	keyword(kwCatalog, `information_schema sysobjects syscolumns sysusers sqlite_master pg_catalog pg_shadow mysql all_tables
		user_tables dba_users msysaccessobjects xp_cmdshell xp_dirtree xp_regread sp_oacreate sp_executesql sp_makewebtask
		load_file extractvalue updatexml group_concat gtid_subset json_keys name_const openrowset opendatasource utl_inaddr
		utl_http dbms_xmlgen ctxsys pg_read_file lo_import sys_eval sys_exec sqlite_version xmltype outfile dumpfile analyse
		int integer bigint numeric text json jsonb bool boolean`)
	keyword(kwOrder, "order group having")
	keyword(kwFunc, "char chr nchar concat concat_ws unhex hex ascii ord substr substring mid if ifnull iif case")
	keyword(kwStack, "drop truncate alter create insert update delete exec execute declare shutdown grant waitfor select copy set")
	keyword(kwJS, `document window location alert prompt confirm eval settimeout setinterval atob fromcharcode import constructor
		src innerhtml image self top parent this fetch new`)
	keyword(kwCSS, "expression url binding behavior import")
	keyword(kwFile, `etc passwd shadow group gshadow hosts issue hostname motd crontab sudoers fstab profile bashrc environment
		resolv nginx apache apache2 httpd mysql php ssh ssl redis postgresql proc self version cpuinfo meminfo mounts net windows
		winnt win system ini system32 config drivers id_rsa authorized_keys known_hosts htpasswd htaccess inf web aws credentials
		var log bash_history git head usr local env wp database yml npmrc docker json subuid subgid master cron shells security
		kubernetes interrupts cmdline environ sys class kernel devices firmware kube gnupg credentials mysql_history
		psql_history pgpass netrc`)
	keyword(kwWrapper, "php phar zip expect glob compress ogg rar zlib ssh2")
	keyword(kwShell, `tcp udp nc ncat netcat bash sh mkfifo curl wget python python2 python3 perl php ruby powershell certutil
		base64 bin cmd authorized_keys chmod invoke iex iwr irm iwmi webclient start downloadstring downloadfile zsh ksh csh tcsh dash fish ash
		shell`)
	keyword(kwServerJS, "this return sleep while db constructor")
	keyword(kwBool, "or and xor")
	keyword(kwSelect, "select")
	keyword(kwWhen, "when")
	keyword(kwScript, "script")
	keyword(kwData, "data")
	keyword(kwIf, "if")
	keyword(kwBatch, "exist defined errorlevel cmdextversion equ neq lss leq gtr geq")
	keyword(kwSQLOp, `or and xor not union select like rlike regexp having order group where from into sleep benchmark waitfor
		exec drop insert update delete case when null is in div between limit procedure declare true false`)
}

// keywordBits returns the union of the keyword bits of the words of s:
// its runs of letters, digits and underscores.
func keywordBits(s string) uint64 {
	var bits uint64
	for i := 0; i < len(s); {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && ('a' <= s[j] && s[j] <= 'z' || '0' <= s[j] && s[j] <= '9' || s[j] == '_') {
			j++
		}
		if j-i >= 2 && j-i <= 24 {
			bits |= keywordIndex[s[i:j]]
		}
		i = j
	}
	return bits
}

// prose reports whether the value reads as free text: five or more words
// and little else. Rules that look for SQL syntax, which sentences with
// quotes and "or" also have, count less in prose.
func (v *value) prose() bool {
	if v.isProse == 0 {
		v.isProse = -1
		if isProse(v.norm) {
			v.isProse = 1
		}
	}
	return v.isProse > 0
}

// isProse reports whether s has five or more words of two or more
// letters, and letters, spaces and sentence punctuation make at least
// 90% of its bytes.
func isProse(s string) bool {
	words, text, run := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || c >= 0x80 {
			run++
			text++
			continue
		}
		if run >= 2 {
			words++
		}
		run = 0
		if strings.IndexByte(" \n.,!?'\"-", c) >= 0 {
			text++
		}
	}
	if run >= 2 {
		words++
	}
	return words >= 5 && text*100 >= len(s)*90
}

// rawClasses returns the byte classes of the raw value.
func (v *value) rawClasses() uint32 {
	if !v.rawMaskDone {
		v.rawMask = classes(v.raw)
		v.rawMaskDone = true
	}
	return v.rawMask
}

// classes returns the union of the byte classes of s.
func classes(s string) uint32 {
	var m uint32
	for i := 0; i < len(s); i++ {
		m |= byteClass[s[i]]
	}
	return m
}

// rule is a Rule with what the engine needs to run it.
type rule struct {
	Rule
	index int // in rules
	locs  location
	// need are byte classes that must all be in the value, any those of
	// which one must be (if not 0): the cheap prefilter.
	need, any uint32
	// lit, if not empty, must be a substring of the value; lits, if not
	// empty, one of them must be.
	lit  string
	lits []string
	// kw, if not 0, are keyword bits of which the value must have one.
	kw uint64
	// raw makes the rule match the raw value rather than the normal form.
	raw bool
	// re or fn decides; fn sees the whole value.
	re *regexp.Regexp
	fn func(v *value) bool
}

// rules are all the payload rules, in the order they run: by family, then
// by id. Bot and ban rules are apart (botRules, banRule, tooManyRule).
var rules []*rule

// ruleIndex maps a rule id to its rule, bot and ban rules included.
var ruleIndex = map[int]*Rule{}

// allRules lists every rule, payload and others, by id.
var allRules []*Rule

// ruleSlot maps a rule id to its index in allRules.
var ruleSlot = map[int]int{}

func register(rs ...*rule) {
	for _, r := range rs {
		if r.Paranoia == 0 {
			r.Paranoia = 1
		}
		if r.locs == 0 {
			r.locs = locAll
		}
		if _, dup := ruleIndex[r.ID]; dup {
			panic("waf: duplicate rule id")
		}
		r.index = len(rules)
		rules = append(rules, r)
		ruleIndex[r.ID] = &r.Rule
		allRules = append(allRules, &r.Rule)
	}
}

func registerOther(rs ...*Rule) {
	for _, r := range rs {
		if _, dup := ruleIndex[r.ID]; dup {
			panic("waf: duplicate rule id")
		}
		ruleIndex[r.ID] = r
		allRules = append(allRules, r)
	}
}

func init() {
	register(sqliRules...)
	register(xssRules...)
	register(traversalRules...)
	register(rfiRules...)
	register(cmdiRules...)
	register(nosqlRules...)
	for i := range botRules {
		registerOther(&botRules[i])
	}
	registerOther(&banRule, &tooManyRule)
	for i, r := range allRules {
		ruleSlot[r.ID] = i
	}
	if len(rules) > 128 {
		panic("waf: more than 128 payload rules")
	}
}

// re compiles a rule's expression once, at init.
func re(expr string) *regexp.Regexp { return regexp.MustCompile(expr) }

// ruleByID returns the rule with the given id, or nil.
func ruleByID(id int) *Rule { return ruleIndex[id] }

// Rules returns every built-in rule: payload, bot, ban and protocol rules,
// ordered by id.
func Rules() []Rule {
	out := make([]Rule, len(allRules))
	for i, r := range allRules {
		out[i] = *r
	}
	slices.SortFunc(out, func(a, b Rule) int { return a.ID - b.ID })
	return out
}

// banRule is what a banned client's requests match.
var banRule = Rule{ID: 9001, Family: FamilyBan, Severity: Critical, Paranoia: 1, Description: "client banned after repeated attacks, or by hand"}

// tooManyRule is what a request with more values than the engine inspects
// matches.
var tooManyRule = Rule{ID: 7001, Family: FamilyProtocol, Severity: Critical, Paranoia: 1, Description: "more parameters, cookies or fields than Config.MaxValues"}

// words reports whether s contains any of the given substrings.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
