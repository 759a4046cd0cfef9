package waf

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		plus bool
		want string
	}{
		{"plain", "hello", false, "hello"},
		{"case", "SeLeCt FROM", false, "select from"},
		{"plus in a query", "running+shoes", true, "running shoes"},
		{"plus elsewhere", "a+b", false, "a+b"},
		{"percent", "%27%20OR%20%271%27%3D%271", false, "' or '1'='1"},
		{"double percent", "%2527", false, "'"},
		{"triple percent", "%252527", false, "'"},
		{"plus only on the first round", "%2B", true, "+"},
		{"percent u", "%u003cscript%u003E", false, "<script>"},
		{"invalid escape kept", "100%zz", false, "100%zz"},
		{"overlong dots", "%c0%ae%c0%ae%c0%afetc", false, "../etc"},
		{"three-byte overlong", "%e0%80%ae%e0%80%ae/", false, "../"},
		{"fullwidth", "＜ｓｃｒｉｐｔ＞", false, "<script>"},
		{"division slash", "..%u2215etc", false, "../etc"},
		{"entities", "&lt;b&gt; &#x27;&#39 &colon; &#0000106", false, "<b> '' : j"},
		{"entity without semicolon not named", "AT&T &amp q", false, "at&t & q"},
		{"javascript escapes", `\x3cscript\u003e\u{61}`, false, "<script>a"},
		{"NUL dropped", "scr%00ipt", false, "script"},
		{"control bytes dropped", "java\x01script", false, "javascript"},
		{"white space collapsed", "a \t\t b\r\n\n c", false, "a b\nc"},
		{"no-break space", "a%c2%a0b", false, "a b"},
		{"zero-width dropped", "scr\u200bipt", false, "script"},
		{"SQL comment", "union/**/select", false, "union select"},
		{"SQL comment with text", "1/*foo*/or/*bar*/1=1", false, "1 or 1=1"},
		{"MySQL versioned comment", "/*!50000union*/select", false, " union select"},
		{"unterminated comment kept", "admin'/*", false, "admin'/*"},
		{"empty line comment", "union%23%0aselect", false, "union\nselect"},
		{"hash kept", "#1 seller", false, "#1 seller"},
		{"UTF-8 kept", "Größe 東京", false, "größe 東京"},
		{"latin-1 byte kept", "%bf%27", false, "\xbf'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Normalize(tc.in, tc.plus); got != tc.want {
				t.Errorf("Normalize(%q, %v) = %q, want %q", tc.in, tc.plus, got, tc.want)
			}
		})
	}
}

func TestNormalizeFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want uint16
	}{
		{"NUL", "a%00b", fNUL},
		{"comment", "a/*x*/ b", fComment},
		{"glue", "union/**/select", fComment | fCommentGlue},
		{"split keyword", "un/**/ion", fComment | fCommentGlue | fSplitKeyword},
		{"versioned", "/*!union*/", fComment | fVersioned},
		{"double encoding", "%2527", fMultiDecode},
		{"percent u", "%u0027", fPercentU},
		{"look-alike", "%c0%ae", fLookAlike},
		{"control", "a\x01b", fControl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n normalizer
			_, _, got := n.normalize(nil, tc.in, false)
			if got != tc.want {
				t.Errorf("normalize(%q) flags = %b, want %b", tc.in, got, tc.want)
			}
		})
	}
}

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{`/a\b\c`, "/a/b/c"},
		{"//a///b", "/a/b"},
		{"/./a/./b/.", "/a/b/"},
		{"/a/../b", "/a/../b"},
		{"/..;/..;/web-inf", "/..;/..;/web-inf"},
	} {
		if got := string(cleanPath([]byte(tc.in))); got != tc.want {
			t.Errorf("cleanPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDotDotSegments(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		into bool
	}{
		{"../../etc/passwd", 2, true},
		{`..\win.ini`, 1, true},
		{"....//x", 1, true},
		{"/a/..", 1, false},
		{"use ../ before the file name", 1, false},
		{"wait... what", 0, false},
		{"v1.2..3", 0, false},
	} {
		n, into := dotDotSegments(tc.in)
		if n != tc.n || into != tc.into {
			t.Errorf("dotDotSegments(%q) = %d, %v, want %d, %v", tc.in, n, into, tc.n, tc.into)
		}
	}
}

func TestIsProse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"the 'or' in oregon is pronounced like 'or'.", true},
		{"' or 1=1 --", false},
		{"https://www.example.com/search?q=' or 1 between 1 and 2--", false},
		{"short text", false},
	} {
		if got := isProse(tc.in); got != tc.want {
			t.Errorf("isProse(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestKeywordBits(t *testing.T) {
	if got := keywordBits("1 union select 1"); got&kwUnion == 0 || got&kwSelect == 0 {
		t.Errorf("keywordBits(union select) = %b, want kwUnion and kwSelect", got)
	}
	if got := keywordBits("reunion selected"); got != 0 {
		t.Errorf("keywordBits(reunion selected) = %b, want 0: words, not substrings", got)
	}
	if got := keywordBits(strings.Repeat("x", 30)); got != 0 {
		t.Errorf("keywordBits(long word) = %b, want 0", got)
	}
}

// TestRuleTable checks that rule ids are unique, every rule is
// documented and has a valid paranoia level, and the payload rules have a
// matcher.
func TestRuleTable(t *testing.T) {
	seen := map[int]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("rule %d listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Description == "" || r.Paranoia < 1 || r.Paranoia > 4 || r.Family == FamilyNone || r.Severity < Notice {
			t.Errorf("rule %d = %+v: missing description, paranoia, family or severity", r.ID, r)
		}
	}
	for _, r := range rules {
		if r.re == nil && r.fn == nil {
			t.Errorf("rule %d has neither an expression nor a func", r.ID)
		}
	}
}
