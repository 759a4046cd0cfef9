// Package waf is phalanx's web application firewall: it inspects HTTP
// requests for attacks (SQL injection, cross-site scripting, path
// traversal and file inclusion, OS command injection, NoSQL injection),
// refuses scanners and scripted clients by User-Agent, and bans clients
// that keep attacking. It knows nothing of the proxy or the config file;
// the Server mounts Middleware (or calls Engine.Check from its own HTTP
// engine) between the rate limiter and the route match.
//
// # Use
//
// New(Config) returns an Engine; its zero Config is ready and blocks at
// paranoia level 1. Engine.Inspect(*http.Request) returns a Verdict, and
// Middleware(e, next) answers 403 Forbidden to the requests it blocks,
// with the request id (from the X-Request-Id header, Config.RequestIDHeader)
// in the body, and passes the others to next. Engine.InspectWith and
// MiddlewareWith take the Exclusions of a route. An HTTP engine other
// than net/http fills a Request view (method, raw path, raw query, a
// Header lookup, client address, request id, the first bytes of the
// body) and calls Engine.Check; Forbid writes the same 403.
//
// # Order of the checks
//
// The checks run in order of cost, and in blocking mode the first that
// blocks ends them:
//
//  1. the client's ban: a banned client gets 403 at once (rule 9001);
//  2. the bot rules on the User-Agent (6001 to 6004);
//  3. the payload rules on every value of the request.
//
// The client is Config.Client(r), by default the host of r.RemoteAddr.
// Behind trusted proxies, pass a func that resolves X-Forwarded-For.
//
// # What is inspected
//
// The path; the name and value of every query parameter (split on '&'
// only); every header but IgnoredHeaders and the Sec- ones (custom headers
// included, since applications log and show them; a view whose Header
// cannot list its headers gets DefaultHeaders); the name and value of
// every cookie; and the body, read up to Config.MaxBodyBytes (64 KiB):
// form fields, JSON keys and string values (nested to 64 levels),
// multipart text fields and file names (not file contents), or, for other
// text types, the body as one value. Binary types (images, audio, video,
// fonts, archives, PDF, protobuf) are not read. Inspect reads the body and
// puts back an r.Body that yields all of it, so the handler reads the
// whole body; one longer than the limit is inspected up to the limit, and
// Verdict.BodyTruncated says so. A request with more than
// Config.MaxValues (1024) values is blocked (rule 7001) rather than
// partly inspected.
//
// # Normalisation
//
// Each value is matched raw (by the rules on encodings) and in its normal
// form (Normalize): percent-decoded until stable, at most 4 rounds, %uXXXX
// included, '+' a space in queries, forms and cookies; overlong UTF-8
// (%c0%ae) and look-alikes (fullwidth forms, U+2215) folded to ASCII; HTML
// character references (&lt; &#x27; &#0000106 &colon;) and JavaScript
// escapes (\x3c \u003c) decoded; ASCII lowercased; NUL and other control
// bytes dropped; runs of white space made one; SQL comments /*...*/ made a
// space (MySQL's /*!...*/ keeping its content), and "#" before a line
// break dropped. The path is also cleaned: backslashes made slashes,
// repeated slashes and "/./" removed, ".." kept. The normaliser notes
// what it undid (a NUL, a comment between two words or inside a keyword,
// a MySQL comment), and some rules match those notes.
//
// # Rules
//
// Every rule has an id, a family, a severity and a paranoia level; Rules
// lists them all. The payload rules, at paranoia level 1 unless noted:
//
//   - SQL injection, 10xx: 1001 libinjection's tokeniser
//     (https://github.com/libinjection/libinjection, through
//     github.com/corazawaf/libinjection-go), 1002 UNION SELECT, 1003
//     boolean condition after a broken-out value (' OR '1'='1, 1 AND 2>1),
//     1004 quote then a comment that ends the query (admin'--), 1005
//     stacked query (; DROP TABLE), 1006 time-based (SLEEP, BENCHMARK,
//     WAITFOR DELAY, pg_sleep), 1007 catalogue and exploitation functions
//     (information_schema, @@version, xp_cmdshell, INTO OUTFILE), 1008
//     ORDER BY probing, 1009 MySQL executable comment, 1010 comment as a
//     space (warning), 1011 SELECT ... FROM with a clause (warning), 1012
//     CHAR() or hex strings after a comparison, 1013 1'='1, 1014
//     comparison with a subquery, 1015 SQL syntax in a sentence (warning),
//     1016 comment inside a keyword (UN/**/ION), 1017 CASE WHEN, 1018 JSON
//     operators on a JSON string in a condition ('{"a":1}' ? 'a', ?|, ?&,
//     ->, #>, @>, OR json_extract(...)); 1021 (PL2)
//     an SQL word after a quote. In free text (five words or more, nine
//     tenths letters and punctuation), 1001 and 1003 give way to 1015: "the
//     'or' in Oregon is pronounced like 'or'" is valid SQL syntax, not an
//     attack.
//   - Cross-site scripting, 20xx: 2001 libinjection's HTML5 tokeniser, 2002
//     script tag, 2003 event handler attribute, 2004 javascript: URL (with
//     white space anywhere in the scheme), 2005 tags that load or run code
//     (iframe, object, svg, base, meta, ..., namespaced too), 2006
//     JavaScript sinks and dialogs (warning), 2007 breaking out of a
//     JavaScript string, 2008 data: URL of HTML or script, 2009 script in
//     CSS, 2010 client-side template injection, 2011 script properties by
//     brackets or template calls, 2012 UTF-7; 2021 (PL2) any tag with
//     attributes.
//   - Path traversal and local files, 30xx: 3001 ../ that climbs into a
//     path, or two of them, 3002 a lone ../ (warning: prose about relative
//     links has one), 3003 dots sent encoded, 3004 ..%2f in the path, 3005
//     a path to a system file (/etc/passwd, win.ini, .ssh/id_rsa; the
//     value must start like a path or climb), 3006 PHP stream wrappers,
//     3007 NUL, 3008 hidden files and directories (all but /.well-known/)
//     and backups in the path, 3009 a path in an uploaded file's name;
//     3021 (PL2) a system file mentioned anywhere.
//   - Remote file inclusion and internal URLs, 31xx: 3101 URL of an IP
//     address, localhost or a metadata host, 3102 URL ending in '?' (or,
//     for a script, '#' or an empty parameter), 3103 remote URL in a
//     parameter named for a file to include (page, file, template,
//     ..._path), 3104 remote URL of a script or text file (warning), 3105
//     gopher:, dict:, jar:, data:// and UNC paths.
//   - OS command injection, 40xx: 4001 a command where a shell runs one
//     (after ; | || & && or a line break, or inside `...` or $(...)), with
//     quotes and backslashes inside words, $@, ${IFS} and brace lists
//     undone first; a word that is also English ("cat", "find") needs a
//     shell-like argument, so "Cat & dog friendly" passes. 4002
//     Shellshock (and a value that starts with "() {"), 4003 reverse
//     shells and download-and-run, 4004 shell evasions ($IFS, $@ inside a
//     word, $((...)) and $[...], ${VAR:0:1} and other expansions, brace
//     lists with an empty word {,id}), 4005 paths written with globs
//     (/???/c?t), 4006 process substitution and batch FOR loops (with
//     /F options), 4007 server-side includes, 4008 a command line in a
//     parameter named cmd, exec, run, ..., 4009 Log4Shell lookups, 4010
//     batch IF statements where a command starts (IF EXIST x ECHO, IF
//     ERRORLEVEL 1 GOTO, IF %a% NEQ 0 EXIT, IF "%1"=="" GOTO; a word
//     that is also English, or a == of plain words, needs a built-in
//     command after it), 4011 a value that is one command line on a
//     system file (cat /etc/passwd; not "cat /etc/hosts windows
//     equivalent"); 4021 (PL2, warning) any value that starts like a
//     command line.
//   - NoSQL injection, 50xx: 5001 query operators in parameter names
//     (password[$ne]=), 5002 as JSON keys ({"$gt": ""}; "$schema", "$ref",
//     "$id" and JSON.NET's "$type" with a string are not operators), 5003
//     operator objects in values, 5004 JavaScript injection into $where.
//
// The bot rules: 6001 scanners (ScannerAgents: sqlmap, nikto, nmap,
// masscan, dirbuster, acunetix, nuclei and more), 6002 scripted clients
// (ScriptAgents: python-requests, Go-http-client, Java/), 6003 a missing
// or empty User-Agent, 6004 Config.BotDeny. Config.BotAllow exempts a
// User-Agent; the empty string in it allows requests without one. Note
// that Go's http.Client sends "Go-http-client/1.1": programs and tests
// that call a protected server with it must set a User-Agent or be
// allowed.
//
// Matching is linear in the size of a value: Go's regexp (RE2) and
// hand-written scanners, no backtracking. Rules are compiled once, at
// init. A rule runs only if its prefilter passes: the byte classes it
// needs (a quote, a '<'), and keywords of which the value must have one
// (found with one map lookup per word of the value); libinjection runs
// only on values that could hold what it looks for, so "women's" and a
// base64 token cost nothing. A clean request allocates nothing.
//
// # Scoring
//
// A match adds its severity to the request's anomaly score: critical 5,
// error 4, warning 3, notice 2 (the scale of the OWASP Core Rule Set). A
// request whose score reaches Config.Threshold (5) is blocked: one
// critical match, or two warnings. Each rule counts once per value. A
// higher Config.Paranoia (1 to 4) runs more rules. With
// Config.DetectOnly, nothing is blocked: the engine logs and counts what
// it would have blocked, and still keeps strikes and bans, so Bans shows
// whom it would have banned.
//
// Exclusions turn rules off by id or family for a route, for legitimate
// traffic that looks like an attack (a forum about SQL, an endpoint that
// takes shell snippets); ParseExclusions reads the words of the
// waf_exclude directive.
//
// # Strikes and bans
//
// A blocked (or, in detect-only mode, detected) request gives its client
// strikes: 3 for the payload rules, 5 for a scanner or a denied
// User-Agent, 1 for a scripted client or an empty User-Agent. Strikes
// halve every Config.StrikeHalfLife (10 minutes): a client's count is
// s·2^(-t/10m) t after its last strike. A client with more than
// Config.AutoBanThreshold (15) strikes is banned for
// Config.AutoBanDuration (an hour), and its strikes go when the ban ends.
// So six attacks in quick succession ban a client (18 strikes), while one
// attack every ten minutes never does (the count stays below 6).
//
// A client is its IPv4 address, or the /64 of its IPv6 address (a host
// is given a whole /64); an invalid address is never tracked. Bans lists
// the bans in force; Ban and Unban edit them, and take effect on the
// client's next request. The table keeps at most Config.MaxClients
// (65536) clients, each about 100 bytes, in 16 shards; a new client in a
// full shard evicts, of eight sampled, the one with the fewest strikes
// that is not banned, so spraying addresses cannot evict a ban unless
// every sampled client is banned.
//
// Instances of a fleet share strikes and bans through a store (package
// sharedstore): Engine.SetHooks reports the strikes, bans and unbans an
// engine makes, and AddStrikes, ApplyBan and ApplyUnban apply those of
// the others without reporting them again.
//
// # Counters and logs
//
// Engine.Stats returns the counters: requests, blocks, detections, banned
// requests, bans made, and blocks by family, by rule id and by bot
// pattern. The request path only adds to atomics; a Prometheus collector
// reads Stats. Each blocked or detected request is one slog line (warn
// level, or info in detect-only mode) with the request id, client, cause,
// family, rule ids, score, method, path, and the first match's place and
// value.
//
// # Concurrency
//
// An Engine is safe for concurrent use and must not be copied. Inspect
// and Check take no lock on a clean request from a client with no ban
// while no ban is in force; otherwise they lock one shard of the strike
// table briefly. The zero Exclusions and Config are ready; Exclusions may
// be shared by goroutines once built.
//
// # Configuration
//
// In phalanx.conf, in an http or server block (the defaults shown):
//
//	waf_enabled on;                 # off: no Engine is mounted
//	waf_mode block;                 # block|detect: Config.DetectOnly
//	waf_paranoia 1;                 # 1..4: Config.Paranoia
//	waf_body_limit 64k;             # Config.MaxBodyBytes; 0 turns body inspection off (a negative MaxBodyBytes)
//	waf_auto_ban_threshold 15;      # Config.AutoBanThreshold
//	waf_auto_ban_duration 3600;     # Config.AutoBanDuration, seconds or a duration
//	waf_bot_allow "MyMonitor/2.0";  # Config.BotAllow, User-Agent substrings; "" allows an empty one
//	waf_bot_deny BadBot;            # Config.BotDeny
//
// and in a route block:
//
//	waf_exclude 1001 sqli;          # rule ids and families: ParseExclusions
//
// There is no directive for the threshold, the strike half-life, the
// table size or the inspected headers, which keep their defaults.
package waf
