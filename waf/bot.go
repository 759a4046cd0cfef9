package waf

import "strings"

// botRules are the rules on the User-Agent.
var botRules = [...]Rule{
	{ID: 6001, Family: FamilyBot, Severity: Critical, Paranoia: 1, Description: "User-Agent of a security scanner or attack tool: sqlmap, nikto, nmap, masscan, dirbuster, acunetix, nuclei, ..."},
	{ID: 6002, Family: FamilyBot, Severity: Critical, Paranoia: 1, Description: "User-Agent of a scripted HTTP client: python-requests, Go-http-client, Java/"},
	{ID: 6003, Family: FamilyBot, Severity: Critical, Paranoia: 1, Description: "missing or empty User-Agent"},
	{ID: 6004, Family: FamilyBot, Severity: Critical, Paranoia: 1, Description: "User-Agent on the deny list (Config.BotDeny, waf_bot_deny)"},
}

// ScannerAgents are the substrings (lowercase) of the User-Agents of
// security scanners and attack tools. A match is a malicious bot: rule
// 6001, 5 strikes.
var ScannerAgents = []string{
	"sqlmap", "nikto", "nmap", "masscan", "dirbuster", "acunetix", "nuclei", "wpscan", "gobuster", "ffuf",
	"fuzz faster u fool", "nessus", "openvas", "w3af", "arachni", "feroxbuster", "zgrab", "zmeu", "morfeus",
	"zollard", "jaeles", "dirsearch", "wfuzz", "hydra", "netsparker", "havij", "appscan", "webinspect",
	"skipfish", "whatweb", "commix", "xsstrike", "x00_-gawa", "brutus", "paros", "webshag", "grabber",
}

// ScriptAgents are the substrings (lowercase) of the User-Agents of HTTP
// libraries that scripts use as they come, without naming themselves. A
// match is rule 6002, 1 strike. Allow your own such clients with
// Config.BotAllow.
var ScriptAgents = []string{"python-requests", "python-urllib", "go-http-client", "java/", "libwww-perl"}

// Strikes for each kind of offence.
const (
	strikePayload = 3 // a request blocked by the payload rules
	strikeScanner = 5 // a scanner or denied User-Agent
	strikeSuspect = 1 // a scripted client or an empty User-Agent
)

// botPattern is one User-Agent substring.
type botPattern struct {
	name    string // lowercase
	rule    *Rule
	strikes int
}

// botMatcher finds bot User-Agents. It is immutable once built.
type botMatcher struct {
	allow      []string // lowercase substrings that exempt a User-Agent
	allowEmpty bool
	pats       []botPattern
	first      [256][]uint16 // indexes of pats by first byte
}

// emptyBot is the index of the empty User-Agent in the bot counters:
// len(pats).
func (b *botMatcher) emptyBot() int { return len(b.pats) }

func newBotMatcher(allow, deny []string) *botMatcher {
	b := &botMatcher{}
	for _, a := range allow {
		if a == "" {
			b.allowEmpty = true
			continue
		}
		b.allow = append(b.allow, strings.ToLower(a))
	}
	add := func(list []string, r *Rule, strikes int) {
		for _, p := range list {
			if p = strings.ToLower(p); p != "" {
				b.pats = append(b.pats, botPattern{name: p, rule: r, strikes: strikes})
			}
		}
	}
	add(deny, &botRules[3], strikeScanner)
	add(ScannerAgents, &botRules[0], strikeScanner)
	add(ScriptAgents, &botRules[1], strikeSuspect)
	for i, p := range b.pats {
		b.first[p.name[0]] = append(b.first[p.name[0]], uint16(i))
	}
	return b
}

// match returns the index of the pattern ua matches, emptyBot for an
// empty ua, or -1. lower is scratch space for the lowercased ua.
func (b *botMatcher) match(ua string, lower []byte) (int, []byte) {
	if strings.TrimSpace(ua) == "" {
		if b.allowEmpty {
			return -1, lower
		}
		return b.emptyBot(), lower
	}
	lower = lower[:0]
	for i := 0; i < len(ua); i++ {
		c := ua[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	s := bytesString(lower)
	for _, a := range b.allow {
		if strings.Contains(s, a) {
			return -1, lower
		}
	}
	for i := 0; i < len(s)-1; i++ {
		for _, k := range b.first[s[i]] {
			p := b.pats[k].name
			if len(p) <= len(s)-i && (len(p) == 1 || s[i+1] == p[1]) && s[i:i+len(p)] == p {
				return int(k), lower
			}
		}
	}
	return -1, lower
}
