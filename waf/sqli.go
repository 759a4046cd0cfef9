package waf

import (
	"strings"

	"github.com/corazawaf/libinjection-go"
)

// sqliSpecial are the byte classes without one of which libinjection
// finds no SQL injection in practice: quotes, operators, parentheses,
// comments and separators.
const sqliSpecial = cQuote | cDquote | cBacktick | cParen | cSemi | cEq | cLt | cGt | cPipe | cAmp | cHash | cAt | cComma

// headerBenign are classes every browser User-Agent has, which say nothing
// about SQL in a header.
const headerBenign = cParen | cSemi | cComma

var sqliRules = []*rule{
	{
		Rule: Rule{ID: 1001, Family: FamilySQLi, Severity: Critical, Description: "SQL injection found by libinjection's tokeniser"},
		fn:   sqliTokens,
	},
	{
		Rule: Rule{ID: 1002, Family: FamilySQLi, Severity: Critical, Description: "UNION SELECT"},
		kw:   kwUnion,
		re:   re(`\bunion[\s(+]+(?:(?:all|distinct)[\s(+]+)?select\b`),
	},
	{
		Rule: Rule{ID: 1003, Family: FamilySQLi, Severity: Critical, Description: "boolean condition after a broken-out value: ' OR '1'='1, 1 AND 2>1"},
		any:  cEq | cLt | cGt | cLower,
		fn:   func(v *value) bool { return boolOpCandidate(v) && !v.prose() && tautology(v) },
	},
	{
		Rule: Rule{ID: 1004, Family: FamilySQLi, Severity: Critical, Description: "quote or bracket followed by a comment that ends the query: admin'--, 1')#"},
		lits: []string{"--", "#", "/*"},
		any:  cQuote | cDquote | cBacktick | cParen,
		re:   re(`['"\x60)]\s*(?:;\s*)?(?:--[\s\-+]*$|#\s*$|/\*)`),
	},
	{
		Rule: Rule{ID: 1005, Family: FamilySQLi, Severity: Critical, Description: "stacked query: ; DROP TABLE, ; EXEC xp_, ; SELECT pg_sleep"},
		kw:   kwStack,
		need: cSemi,
		re: re(`;\s*(?:drop\s+(?:table|database|schema|user|view|index|procedure|function)\b|truncate\s+(?:table\s+)?[\w\x60"\[]|alter\s+(?:table|user|database|login)\b|` +
			`create\s+(?:table|user|database|procedure|function|trigger|login)\b|insert\s+into\b|update\s+[\w.\x60"\[\]]+\s+set\b|delete\s+from\b|` +
			`exec(?:ute)?\s+(?:master|xp_|sp_|@|\w+\.\.)|declare\s+@|shutdown\b|grant\s+(?:all|select|insert|update|delete|execute)\b|waitfor\s+(?:delay|time)\b|` +
			`select\s+(?:\*|\d+\b|null\b|@@|pg_sleep|sleep|benchmark|version|user\s*\(|database\s*\(|load_file|count\s*\(|concat|dbms_)|copy\s*\(|set\s+@)`),
	},
	{
		Rule: Rule{ID: 1006, Family: FamilySQLi, Severity: Critical, Description: "time-based blind injection: SLEEP(), BENCHMARK(), WAITFOR DELAY, pg_sleep"},
		kw:   kwSleep,
		any:  cParen | cQuote,
		re: re(`(?:\b(?:and|or|xor|select|if|then|else|rlike|when|union|not)\b|['")\d]|\|\||&&|[(,=;])\s*\(*\s*(?:sleep|benchmark)\s*\(\s*\d|` +
			`\bwaitfor\s+(?:delay|time)\s+['"]\d|\bdbms_(?:pipe\.receive_message|lock\.sleep)\s*\(|\bpg_sleep\b`),
	},
	{
		Rule: Rule{ID: 1007, Family: FamilySQLi, Severity: Critical, Description: "database catalogue, exploitation function or file access: information_schema, @@version, xp_cmdshell, INTO OUTFILE"},
		kw:   kwCatalog,
		any:  cParen | cAt | cLower,
		re: re(`\b(?:information_schema|sysobjects|syscolumns|sysusers|sqlite_master|pg_catalog|pg_shadow|mysql\.user|all_tables|user_tables|dba_users|msysaccessobjects|xp_cmdshell|xp_dirtree|xp_regread|sp_oacreate|sp_executesql|sp_makewebtask)\b|` +
			`@@(?:version|datadir|hostname|basedir|servername|tmpdir|global)\b|` +
			`\b(?:load_file|extractvalue|updatexml|group_concat|gtid_subset|json_keys|name_const|openrowset|opendatasource|utl_inaddr\.\w+|utl_http\.\w+|dbms_xmlgen\.\w+|ctxsys\.drithsx\.sn|pg_read_file|lo_import|sys_eval|sys_exec|sqlite_version|xmltype)\s*\(|` +
			`\binto\s+(?:out|dump)file\b|\bprocedure\s+analyse\s*\(|[)'"]\s*::\s*(?:int|integer|bigint|numeric|text|jsonb?|bool|boolean)\b`),
	},
	{
		Rule: Rule{ID: 1008, Family: FamilySQLi, Severity: Critical, Description: "column probing: ' ORDER BY 10--, GROUP BY 1,2 HAVING 1=1"},
		kw:   kwOrder,
		need: cDigit,
		re:   re(`['")\d]\s*(?:order|group)\s+by\s+\d+\s*(?:,\s*\d+\s*)*(?:--|#|$|\)|having\b|limit\b)|\bhaving\s+\d+\s*=\s*\d+`),
	},
	{
		Rule: Rule{ID: 1009, Family: FamilySQLi, Severity: Critical, Description: "MySQL executable comment /*!...*/"},
		fn:   func(v *value) bool { return v.flags&fVersioned != 0 },
	},
	{
		Rule: Rule{ID: 1010, Family: FamilySQLi, Severity: Warning, Description: "comment used as a space between words: UNION/**/SELECT"},
		fn:   func(v *value) bool { return v.flags&(fCommentGlue|fSplitKeyword) == fCommentGlue },
	},
	{
		Rule: Rule{ID: 1016, Family: FamilySQLi, Severity: Critical, Description: "comment inside an SQL keyword: UN/**/ION SEL/**/ECT"},
		fn:   func(v *value) bool { return v.flags&fSplitKeyword != 0 },
	},
	{
		Rule: Rule{ID: 1017, Family: FamilySQLi, Severity: Critical, Description: "conditional expression: (SELECT CASE WHEN ... THEN ... ELSE ... END)"},
		kw:   kwWhen,
		re:   re(`\bcase\s+when\b[^;]{1,200}?\bthen\b[^;]{1,200}?\b(?:else|end)\b`),
	},
	{
		Rule: Rule{ID: 1018, Family: FamilySQLi, Severity: Critical, Description: "JSON operator on a JSON string in a condition: '{\"a\":1}' ? 'a', '[1]' ?| array[...], '{...}' -> '$.a', OR json_extract(...)"},
		need: cQuote,
		any:  cBrace | cBracket | cParen,
		fn: func(v *value) bool {
			return strings.Contains(v.norm, "'{") || strings.Contains(v.norm, "'[") || strings.Contains(v.norm, "json_")
		},
		re: re(`(?:^|[\s(,=])'[\[{][^']{0,200}'(?:\s*::\s*jsonb?)?\s*(?:(?:\?[|&]?|->>?|#>>?|@>|<@)\s*(?:'|array\s*\[)|[<>=]\s*'\$[.\[])|` +
			`(?:\b(?:or|and|xor|not|where|when|having)|\|\||&&)\s+json_(?:extract|contains|contains_path|unquote|value|query|keys|length|type|search|overlaps|exists)\s*\(`),
	},
	{
		Rule: Rule{ID: 1011, Family: FamilySQLi, Severity: Warning, Description: "SELECT ... FROM with an SQL clause"},
		kw:   kwSelect,
		re:   re(`\bselect\s+(?:[\w@.*,'"()\s-]{1,120}?)\s+from\s+[\w.\x60"\[\]]+(?:\s+(?:where|limit|order|group|union|join|having)\b|\s*(?:--|#|;|$|\)))`),
	},
	{
		Rule: Rule{ID: 1012, Family: FamilySQLi, Severity: Critical, Description: "string built from CHAR() or hex to dodge quotes, after a boolean or comparison"},
		fn:   func(v *value) bool { return v.keywords()&kwFunc != 0 || strings.Contains(v.norm, "0x") },
		any:  cParen | cDigit,
		re:   re(`(?:\b(?:or|and|xor|union|select|where)\b|[=<>,(]|\|\||&&)\s*(?:(?:char|chr|nchar|concat|concat_ws|unhex|hex|ascii|ord|substr|substring|mid|if|ifnull|iif|case)\s*\(|0x[0-9a-f]{2,}\b)`),
	},
	{
		Rule: Rule{ID: 1013, Family: FamilySQLi, Severity: Critical, Description: "quoted comparison glued to the value it breaks out of: 1'='1, admin'='admin"},
		need: cEq,
		any:  cQuote | cDquote | cBacktick,
		re:   re(`[\w)]['"\x60]\s*(?:=|<>|!=|<=>)\s*['"\x60][\w(]`),
	},
	{
		Rule: Rule{ID: 1014, Family: FamilySQLi, Severity: Critical, Description: "comparison with a subquery: 1 RLIKE (SELECT ...), ' AND 1=(SELECT ...)"},
		need: cParen,
		kw:   kwSelect,
		re:   re(`(?:^|['")\d])[\s+]*(?:(?:or|and|xor|not|rlike|regexp|like|in|div|=|<>|!=|<=?|>=?|\|\||&&)[\s+]*)+\(+\s*select\b`),
	},
	{
		Rule: Rule{ID: 1015, Family: FamilySQLi, Severity: Warning, Description: "SQL syntax in free text: a quote, OR and a comparison in a sentence"},
		any:  sqliSpecial | cDash,
		fn: func(v *value) bool {
			op, tok := boolOpCandidate(v), sqliCandidate(v)
			return (op || tok) && v.prose() && (op && tautology(v) || tok && runLibinjection(v))
		},
	},
	{
		Rule: Rule{ID: 1021, Family: FamilySQLi, Severity: Notice, Paranoia: 2, Description: "SQL keyword after a quote: ' OR, \" UNION"},
		any:  cQuote | cDquote | cBacktick,
		locs: locArgs | locNames,
		re:   re(`['"\x60]\s*\b(?:or|and|xor|union|select|having|like|rlike|regexp)\b`),
	},
}

// sqliTokens runs libinjection's SQL tokeniser on values that could hold
// SQL (sqliCandidate) and are not free text.
func sqliTokens(v *value) bool {
	return sqliCandidate(v) && !v.prose() && runLibinjection(v)
}

// runLibinjection runs libinjection's SQL tokeniser on the value.
func runLibinjection(v *value) bool {
	ok, _ := libinjection.IsSQLi(v.norm)
	return ok
}

// sqliCandidate is the prefilter of libinjection. The values that could
// hold SQL are ones with a bracket, a semicolon, a '#', an '@', a
// backtick, "--" or a comment; ones with a quote and an operator or SQL
// word; ones with an operator and an SQL word. "women's", "O'Brien", a URL with a query and
// a base64 token do not qualify, and cost nothing. A User-Agent's
// brackets, semicolons and commas do not count.
func sqliCandidate(v *value) bool {
	m := v.mask
	if v.loc == locHeader {
		m &^= headerBenign
	}
	const (
		strong = cParen | cSemi | cHash | cAt | cBacktick
		quote  = cQuote | cDquote
		ops    = cEq | cLt | cGt | cPipe | cAmp | cComma | cDash | cPlus | cStar
	)
	run := m&strong != 0 || v.flags&fComment != 0 || m&cDash != 0 && strings.Contains(v.norm, "--")
	if !run && m&(quote|ops) != 0 {
		sqlWord := v.keywords()&kwSQLOp != 0
		run = sqlWord || m&quote != 0 && m&ops != 0
	}
	return run
}

// tautology reports a boolean operator (OR, AND, XOR, ||, &&) right after
// something that ends a value an injection breaks out of, followed by a
// comparison or a truth value: the shape of every boolean-based injection.
// The value ends at a quote; at a bracket (for the word operators); or at
// a number that is all the value holds before the operator ("1 OR 1=1").
// "cats or dogs", "'affect' and 'effect'", "between 9 and 5" and code such
// as "if (x > 0 && y < 10)" do not match.
func tautology(v *value) bool {
	s := v.norm
	for i := 0; i < len(s); {
		j, n := nextBoolOp(s, i)
		if j < 0 {
			return false
		}
		i = j + n
		end := valueEnd(s[:j])
		if end == endNone && s[j] != '|' && s[j] != '&' && strings.TrimLeft(s[:j], " (") == "" {
			// "OR 1=1" that starts the value: appended to an unquoted
			// condition.
			end = endParen
		}
		if end == endNone || end == endParen && (s[j] == '|' || s[j] == '&') {
			continue
		}
		if comparisonFollows(s[j+n:], end == endQuote) {
			return true
		}
	}
	return false
}

// boolOpCandidate is the prefilter of tautology: the words OR, AND, XOR,
// or a '|' or '&'.
func boolOpCandidate(v *value) bool {
	return v.mask&(cPipe|cAmp) != 0 || v.keywords()&kwBool != 0
}

// nextBoolOp finds the next boolean operator at or after i: the words or,
// and, xor (as words) or || or &&. It returns its index and length, or -1.
func nextBoolOp(s string, i int) (int, int) {
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '|', '&':
			if i+1 < len(s) && s[i+1] == c {
				return i, 2
			}
		case 'o', 'a', 'x':
			if i > 0 && isIdent(s[i-1]) {
				continue
			}
			for _, w := range [...]string{"or", "and", "xor"} {
				if strings.HasPrefix(s[i:], w) && (i+len(w) == len(s) || !isIdent(s[i+len(w)])) {
					return i, len(w)
				}
			}
		}
	}
	return -1, 0
}

func isIdent(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '$' || c == '@' || c >= 0x80
}

// How the text before a boolean operator ends.
const (
	endNone  = iota
	endQuote // a quote
	endParen // a closing bracket
	endNumber
)

// valueEnd says how s, what precedes an operator, ends: at a quote or a
// bracket (maybe followed by spaces), or at a number that is all of s but
// for a sign, brackets and spaces.
func valueEnd(s string) int {
	s = trimSQLSpaceRight(s)
	if s == "" {
		return endNone
	}
	switch c := s[len(s)-1]; {
	case c == '\'' || c == '"' || c == '`':
		return endQuote
	case c == ')':
		return endParen
	case '0' <= c && c <= '9' || 'a' <= c && c <= 'f':
		// The number may follow the name of a URL parameter or a path.
		if k := strings.LastIndexAny(s, "/=?&:"); k >= 0 {
			s = s[k+1:]
		}
		t := strings.TrimLeft(s, "-( +")
		if strings.HasPrefix(t, "0x") {
			t = strings.TrimLeft(t[2:], "0123456789abcdef")
		}
		if strings.TrimLeft(t, "0123456789.") == "" {
			return endNumber
		}
	}
	return endNone
}

// trimSQLSpaceRight trims white space, '+' (a space in a URL) and a
// trailing line comment ("#...\n", "-- ...\n") from the end of s.
func trimSQLSpaceRight(s string) string {
	for {
		t := strings.TrimRight(s, " \n+")
		if i := strings.LastIndexByte(t, '\n'); i >= 0 && len(t) < len(s) {
			line := t[i+1:]
			if k := strings.IndexByte(line, '#'); k >= 0 {
				t = t[:i+1+k]
			} else if k := strings.Index(line, "--"); k >= 0 {
				t = t[:i+1+k]
			}
		}
		if t == s {
			return s
		}
		s = t
	}
}

// trimSQLSpaceLeft trims white space, '+', '(' and leading line comments
// from the start of s.
func trimSQLSpaceLeft(s string) string {
	for {
		t := strings.TrimLeft(s, " \n+(")
		if strings.HasPrefix(t, "#") || strings.HasPrefix(t, "--") {
			if i := strings.IndexByte(t, '\n'); i >= 0 {
				t = t[i+1:]
			}
		}
		if t == s {
			return s
		}
		s = t
	}
}

// comparisonFollows reports whether s (what follows a boolean operator)
// starts with a comparison, a truth value or a function call that makes
// the condition: '1'='1, 1=1, 2>1, 'a' LIKE 'a, true, NOT 0, 1 IN (1),
// x IS NULL, SLEEP(5), (SELECT ...). After a quote, a lone number that
// ends the value also counts ("' OR 1#").
func comparisonFollows(s string, quoted bool) bool {
	s = trimSQLSpaceLeft(s)
	if s == "" {
		return false
	}
	for _, w := range [...]string{"true", "false", "null"} {
		if strings.HasPrefix(s, w) && (len(s) == len(w) || !isIdent(s[len(w)])) {
			return true
		}
	}
	for _, w := range [...]string{"sleep(", "sleep (", "benchmark(", "select ", "select(", "exists(", "exists (", "if(", "case when", "ascii(", "substr", "ord(", "mid(", "length(", "char(", "chr(", "0x", "@@"} {
		if strings.HasPrefix(s, w) {
			return true
		}
	}
	if strings.HasPrefix(s, "not ") {
		t := strings.TrimLeft(s[4:], " (")
		return t != "" && ('0' <= t[0] && t[0] <= '9' || strings.HasPrefix(t, "true") || strings.HasPrefix(t, "false") || strings.HasPrefix(t, "null"))
	}
	// An operand: a quoted string, a number or a name.
	n := operand(s)
	if n == 0 {
		return false
	}
	rest := strings.TrimLeft(s[n:], " \n)+")
	if strings.HasPrefix(rest, "(") && strings.Contains(rest, "select") {
		return true // a function of a subquery: exp(~(select ...))
	}
	if rest == "" || rest[0] == '#' || strings.HasPrefix(rest, "--") || rest[0] == ';' {
		// "' or 1" and "' or 1--": a truthy number ends the condition.
		return quoted && isNumber(s[:n])
	}
	for _, op := range [...]string{"=", "<", ">", "!=", "like ", "like'", "rlike", "regexp", "is ", "in ", "in(", "between ", "sounds like", "div ", "-", "+", "*", "/"} {
		if strings.HasPrefix(rest, op) {
			if op == "-" || op == "+" || op == "*" || op == "/" {
				// Arithmetic, as in 1 OR 2-1=1: needs a comparison after.
				return strings.ContainsAny(rest, "=<>")
			}
			return true
		}
	}
	return false
}

// operand returns the length of the quoted string, number or name at the
// start of s, or 0.
func operand(s string) int {
	switch c := s[0]; {
	case c == '\'' || c == '"' || c == '`':
		if k := strings.IndexByte(s[1:], c); k >= 0 {
			return k + 2
		}
		return len(s)
	case isIdent(c) || c == '-':
		k := 1
		for k < len(s) && (isIdent(s[k]) || s[k] == '.') {
			k++
		}
		return k
	}
	return 0
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' && s[i] != '-' {
			return false
		}
	}
	return true
}
