package waf

import (
	"strings"

	"github.com/corazawaf/libinjection-go"
)

var xssRules = []*rule{
	{
		Rule: Rule{ID: 2001, Family: FamilyXSS, Severity: Critical, Description: "cross-site scripting found by libinjection's HTML5 tokeniser"},
		any:  cLt | cEq | cColon,
		fn:   xssTokens,
	},
	{
		Rule: Rule{ID: 2002, Family: FamilyXSS, Severity: Critical, Description: "script tag"},
		need: cLt,
		kw:   kwScript,
		re:   re(`<\s*/?\s*(?:[a-z]+\s*:\s*)?script\b`),
	},
	{
		Rule: Rule{ID: 2003, Family: FamilyXSS, Severity: Critical, Description: "event handler attribute in a tag or after a quote, or calling a function: onerror=, \" onmouseover=, ;onfocus=eval("},
		lit:  "on",
		need: cEq,
		re:   re(`(?:<[a-z][^>]*?[\s/"'\x60]|["'\x60]\s*)on[a-z]{3,30}\s*=|(?:^|[\s;/,(])on[a-z]{3,30}\s*=\s*["'\x60]?\s*[\w$.\[\]]+\s*[(\x60]`),
	},
	{
		Rule: Rule{ID: 2004, Family: FamilyXSS, Severity: Critical, Description: "javascript:, vbscript: or livescript: URL"},
		need: cColon,
		fn:   scriptURL,
	},
	{
		Rule: Rule{ID: 2005, Family: FamilyXSS, Severity: Critical, Description: "tag that runs or loads code: iframe, object, embed, svg, math, base, meta, link, style, form, body, marquee"},
		need: cLt,
		re:   re(`<\s*/?\s*(?:[a-z]+\s*:\s*)?(?:iframe|frame|frameset|object|embed|applet|base|isindex|svg|math|xml|xmp|plaintext|import|include|vmlframe|meta|link|keygen|marquee|body|style|form|bgsound|layer|ilayer)\b`),
	},
	{
		Rule: Rule{ID: 2006, Family: FamilyXSS, Severity: Warning, Description: "JavaScript sink or dialog: document.cookie, eval(, alert(, .innerHTML="},
		kw:   kwJS,
		any:  cParen | cDot | cBracket | cBacktick | cEq,
		re: re(`\bdocument\s*\.\s*(?:cookie|write|writeln|domain|location|createelement|body|queryselector\w*|getelementsby\w+|getelementbyid)\b|\.\s*(?:outerhtml|textcontent)\s*=|\bnew\s+function\s*\(|\bwindow\s*\.\s*(?:location|open|name)\b|\blocation\s*\.\s*(?:href|hash|replace|assign)\b|` +
			`\b(?:alert|prompt|confirm|eval|settimeout|setinterval|atob|fromcharcode|import)\s*(?:\(|\x60)|\bconstructor\s*\.\s*constructor\b|` +
			`\.\s*src\s*=|innerhtml\s*=|\bnew\s+image\s*\(|\b(?:self|top|window|parent|this)\s*\[`),
	},
	{
		Rule: Rule{ID: 2007, Family: FamilyXSS, Severity: Critical, Description: "break out of a JavaScript string into code: ';alert(1)//, '-alert(1)-'"},
		kw:   kwJS,
		any:  cQuote | cDquote | cBacktick,
		re:   re(`["'\x60]\s*(?:[-+*/%;,|&^)]|\|\||&&)\s*(?:alert|prompt|confirm|eval|fetch|document|window|top|self|this|parent|location|settimeout|setinterval|import|new\s+\w+)\b\s*[\[(.\x60=]`),
	},
	{
		Rule: Rule{ID: 2008, Family: FamilyXSS, Severity: Critical, Description: "data: URL of HTML, SVG or script"},
		need: cColon,
		kw:   kwData,
		re:   re(`\bdata\s*:\s*(?:text/html|text/xml|image/svg\+xml|application/(?:x-)?(?:javascript|ecmascript|xhtml\+xml|xml)|text/(?:javascript|ecmascript|vbscript|x-scriptlet))`),
	},
	{
		Rule: Rule{ID: 2009, Family: FamilyXSS, Severity: Critical, Description: "script in CSS: expression(), url(javascript:), -moz-binding, behavior:"},
		kw:   kwCSS,
		any:  cParen | cColon,
		re:   re(`[:=]\s*["']?\s*expression\s*\(|url\s*\(\s*['"]?\s*(?:javascript|vbscript|data):|-moz-binding\s*:|\bbehavior\s*:\s*url|@import\s+['"]?\s*(?:javascript|vbscript):`),
	},
	{
		Rule: Rule{ID: 2010, Family: FamilyXSS, Severity: Critical, Description: "client-side template injection: {{constructor.constructor(...)}}"},
		lit:  "{{",
		need: cBrace,
		re:   re(`\{\{[^}]*(?:constructor|\$eval|\$on\b|alert|prompt|\[\s*['"]|tostring|valueof|\$parent)`),
	},
	{
		Rule: Rule{ID: 2011, Family: FamilyXSS, Severity: Critical, Description: "script property reached by brackets or a template call: window['alert'](1), self[\"document\"], [].sort.call`${alert}`"},
		any:  cBracket | cBacktick,
		kw:   kwJS,
		re: re(`\b(?:self|top|window|parent|this|document|globalthis|frames|content|opener)\s*\[\s*['"\x60](?:\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|[$\w])*['"\x60]\s*\]|` +
			`\)\s*\[\s*['"\x60](?:cookie|location|domain|alert|eval|write|constructor)['"\x60]\s*\]|\.\s*call\s*\x60|\$\{\s*(?:alert|eval|prompt|confirm|fetch|import)\s*\}`),
	},
	{
		Rule: Rule{ID: 2012, Family: FamilyXSS, Severity: Critical, Description: "UTF-7 encoded angle bracket: +ADw-script+AD4-"},
		need: cPlus | cDash,
		re:   re(`\+ad[w0]-`),
	},
	{
		Rule: Rule{ID: 2021, Family: FamilyXSS, Severity: Notice, Paranoia: 2, Description: "HTML tag with attributes"},
		need: cLt,
		locs: locArgs | locHeader,
		re:   re(`<[a-z][a-z0-9]*\s+[a-z-]+\s*=`),
	},
}

// xssTokens runs libinjection's HTML5 tokeniser on values that could
// change the markup of a page: ones with a '<', or with an '=' and a quote
// (an attribute breaking out of its quotes), or a script: URL.
func xssTokens(v *value) bool {
	m := v.mask
	if m&cLt == 0 && !(m&cEq != 0 && m&(cQuote|cDquote|cBacktick) != 0) && !strings.Contains(v.norm, "script:") {
		return false
	}
	return libinjection.IsXSS(v.norm)
}

// scriptURL reports a javascript:, vbscript: or livescript: URL: the
// scheme, with white space anywhere in it (browsers drop tabs and line
// breaks in URLs), at the start of the value or after a delimiter, and
// something after the colon.
func scriptURL(v *value) bool {
	s := v.norm
	for i := strings.IndexByte(s, ':'); i >= 0; {
		// Gather the letters before the colon, skipping white space.
		var w [10]byte
		n, j := 0, i-1
		for ; j >= 0 && n < len(w); j-- {
			c := s[j]
			if c == ' ' || c == '\n' {
				continue
			}
			if c < 'a' || c > 'z' {
				break
			}
			n++
			w[len(w)-n] = c
		}
		word := string(w[len(w)-n:])
		for j >= 0 && (s[j] == ' ' || s[j] == '\n') {
			j--
		}
		start := j < 0 || strings.IndexByte("\"'`=(,:;<>[{/", s[j]) >= 0
		if start && (strings.HasSuffix(word, "javascript") && len(word) == 10 || word == "vbscript" || word == "livescript") {
			rest := strings.TrimLeft(s[i+1:], " \n")
			if rest != "" {
				return true
			}
		}
		k := strings.IndexByte(s[i+1:], ':')
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return false
}
