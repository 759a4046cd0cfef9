package waf

//go:generate go run ./internal/corpusgen -o testdata/corpus.jsonl

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Family is a class of attack. Every rule belongs to one family, and a
// route may turn a family off (Exclusions).
type Family uint8

// The families. FamilyBot and FamilyBan are the rules that look at the
// client rather than the payload.
const (
	FamilyNone      Family = iota
	FamilySQLi             // SQL injection, rules 1xxx
	FamilyXSS              // cross-site scripting, rules 2xxx
	FamilyTraversal        // path traversal and local file inclusion, rules 3xxx
	FamilyRFI              // remote file inclusion and server-side requests to internal hosts, rules 31xx
	FamilyCommand          // OS command injection, rules 4xxx
	FamilyNoSQL            // NoSQL operator and JavaScript injection, rules 5xxx
	FamilyBot              // scanners, scripted clients and a missing User-Agent, rules 6xxx
	FamilyProtocol         // requests the engine cannot inspect in full, rules 7xxx
	FamilyBan              // a client banned for earlier attacks, rule 9001
	numFamilies
)

var familyNames = [numFamilies]string{"none", "sqli", "xss", "traversal", "rfi", "cmdi", "nosqli", "bot", "protocol", "ban"}

// String returns the family's name as written in the config file: sqli,
// xss, traversal, rfi, cmdi, nosqli, bot, protocol or ban.
func (f Family) String() string {
	if f < numFamilies {
		return familyNames[f]
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// ParseFamily returns the family with the given name (case-insensitive).
// "lfi" is accepted for traversal, "rce" and "command" for cmdi and
// "nosql" for nosqli.
func ParseFamily(name string) (Family, bool) {
	n := strings.ToLower(name)
	switch n {
	case "lfi", "path-traversal":
		return FamilyTraversal, true
	case "rce", "command":
		return FamilyCommand, true
	case "nosql":
		return FamilyNoSQL, true
	}
	for f := FamilySQLi; f < numFamilies; f++ {
		if familyNames[f] == n {
			return f, true
		}
	}
	return FamilyNone, false
}

// Severity is how much a match adds to a request's anomaly score.
type Severity uint8

// The severities and the score each adds (the scale of the OWASP Core Rule
// Set).
const (
	Notice   Severity = 2
	Warning  Severity = 3
	Error    Severity = 4
	Critical Severity = 5
)

// String returns "notice", "warning", "error" or "critical".
func (s Severity) String() string {
	switch s {
	case Notice:
		return "notice"
	case Warning:
		return "warning"
	case Error:
		return "error"
	case Critical:
		return "critical"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Rule describes one rule of the engine. The rules are built in and
// compiled once; Rules lists them.
type Rule struct {
	ID          int
	Family      Family
	Severity    Severity
	Paranoia    int    // the lowest paranoia level that runs the rule, 1 to 4
	Description string // what the rule looks for
}

// Cause says why a request was blocked (or, in detect-only mode, would
// have been).
type Cause uint8

// The causes, in the order the engine checks them.
const (
	CauseNone    Cause = iota // nothing matched, or not enough to block
	CauseBan                  // the client is banned
	CauseBot                  // a bot rule matched
	CausePayload              // the payload rules scored at or above the threshold
)

// String returns "none", "ban", "bot" or "payload".
func (c Cause) String() string {
	switch c {
	case CauseBan:
		return "ban"
	case CauseBot:
		return "bot"
	case CausePayload:
		return "payload"
	}
	return "none"
}

// Match is one rule that matched one value of a request.
type Match struct {
	Rule  *Rule
	Where string // the value's place: "path", "query:NAME", "header:NAME", "cookie:NAME", "form:NAME", "json:KEY", "multipart:NAME", "filename", "body", "user-agent", "client"
	Value string // the start of the normalised value (at most 64 bytes), for the log
}

// Verdict is the engine's answer for one request. It is a plain value:
// it may be copied, and read from any goroutine.
type Verdict struct {
	// Block reports that the request must be refused (403). It is always
	// false in detect-only mode; Cause then says what would have happened.
	Block bool
	// Cause is why the request was, or would have been, blocked.
	Cause Cause
	// Score is the sum of the severities of the payload matches.
	Score int
	// Matches are the rules that matched, in the order found. The engine
	// stops looking once a request is blocked, so a blocked request may
	// have matched more. Nil for a clean request.
	Matches []Match
	// BodyTruncated reports that the body was longer than the body limit
	// and only its first Config.MaxBodyBytes bytes were inspected.
	BodyTruncated bool
	// Banned reports that this request got its client banned.
	Banned bool
}

// Detected reports whether the request was blocked or, in detect-only
// mode, would have been.
func (v *Verdict) Detected() bool { return v.Cause != CauseNone }

// Family returns the family of the most severe match (the first of equal
// severity), or FamilyNone.
func (v *Verdict) Family() Family {
	f, sev := FamilyNone, Severity(0)
	for _, m := range v.Matches {
		if m.Rule.Severity > sev {
			f, sev = m.Rule.Family, m.Rule.Severity
		}
	}
	return f
}

// RuleIDs returns the ids of the matched rules, without repeats, in the
// order found.
func (v *Verdict) RuleIDs() []int {
	var ids []int
next:
	for _, m := range v.Matches {
		for _, id := range ids {
			if id == m.Rule.ID {
				continue next
			}
		}
		ids = append(ids, m.Rule.ID)
	}
	return ids
}

// Header looks up request headers. http.Header satisfies it; another HTTP
// engine provides its own. The engine always passes canonical names
// ("User-Agent", "Cookie", "X-Forwarded-Host").
type Header interface {
	Values(name string) []string
}

// HeaderLister is an optional capability of a Header: one that can list
// its headers has all of them inspected (but Config.Headers says
// otherwise); one that cannot has DefaultHeaders inspected. http.Header
// is listed without it.
type HeaderLister interface {
	// EachHeader calls f with the canonical name and the value of each
	// header line.
	EachHeader(f func(name, value string))
}

// Request is the view of a request the engine inspects, so that an HTTP
// engine other than net/http can feed it without building an
// *http.Request. Inspect builds one from an *http.Request. The engine
// only reads it, and keeps none of it after Check returns.
type Request struct {
	Method    string
	Path      string // the path as sent on the request line, still escaped
	RawQuery  string // the query as sent, without the '?'
	Header    Header // nil means no headers
	Client    netip.Addr
	RequestID string // for the log line of a blocked request; may be empty
	// Body holds the first bytes of the body, at most Engine.BodyLimit;
	// BodyTruncated reports that the body was longer.
	Body          []byte
	BodyTruncated bool
}

// Exclusions turns rules off, for a route whose legitimate traffic looks
// like an attack (a forum about SQL, a URL shortener). The zero value
// excludes nothing. A route builds its Exclusions once, with
// ParseExclusions, and passes it to every InspectWith or Check; the
// engine only reads it, so goroutines may share it once built.
type Exclusions struct {
	IDs      []int
	Families []Family
}

// ParseExclusions parses the words of a waf_exclude directive: rule ids
// ("1002") and family names ("sqli").
func ParseExclusions(words ...string) (Exclusions, error) {
	var x Exclusions
	for _, w := range words {
		if id, err := strconv.Atoi(w); err == nil {
			if ruleByID(id) == nil {
				return Exclusions{}, fmt.Errorf("%w: %d", ErrUnknownRule, id)
			}
			x.IDs = append(x.IDs, id)
			continue
		}
		f, ok := ParseFamily(w)
		if !ok {
			return Exclusions{}, fmt.Errorf("%w: %q", ErrUnknownFamily, w)
		}
		x.Families = append(x.Families, f)
	}
	return x, nil
}

// excludes reports whether x turns off rule r.
func (x *Exclusions) excludes(r *Rule) bool {
	if x == nil {
		return false
	}
	for _, f := range x.Families {
		if f == r.Family {
			return true
		}
	}
	for _, id := range x.IDs {
		if id == r.ID {
			return true
		}
	}
	return false
}

// excludesFamily reports whether x turns off the whole family f.
func (x *Exclusions) excludesFamily(f Family) bool {
	if x == nil {
		return false
	}
	for _, g := range x.Families {
		if g == f {
			return true
		}
	}
	return false
}

var _ Header = http.Header(nil)
