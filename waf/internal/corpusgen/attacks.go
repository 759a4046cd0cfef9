package main

import (
	"fmt"
	"strings"
)

// weighted is a choice with a weight.
type weighted struct {
	name string
	w    int
}

func (g *gen) choose(ws []weighted) string {
	total := 0
	for _, x := range ws {
		total += x.w
	}
	n := g.r.IntN(total)
	for _, x := range ws {
		if n < x.w {
			return x.name
		}
		n -= x.w
	}
	return ws[len(ws)-1].name
}

// variant is one payload after an evasion.
type variant struct {
	s       string
	evasion string
	pre     bool // already percent-encoded: sent as it is
}

// attacks writes the attack part of the corpus.
func (g *gen) attacks() {
	g.family("sqli", sqliPayloads, g.sqliEvasions, []string{"id", "q", "search", "user", "username", "cat", "category", "sort", "order", "page", "item", "pid", "uid", "name", "email", "filter", "product", "ref", "year"},
		[]weighted{{"query", 34}, {"form", 15}, {"json", 15}, {"path", 8}, {"cookie", 9}, {"header", 8}, {"multipart", 5}}, 3, 560)
	g.family("xss", xssPayloads, g.xssEvasions, []string{"q", "search", "name", "comment", "message", "title", "redirect", "callback", "msg", "text", "username", "bio", "returnUrl", "error", "s", "keyword", "lang", "subject"},
		[]weighted{{"query", 35}, {"form", 15}, {"json", 13}, {"path", 5}, {"header", 9}, {"cookie", 6}, {"multipart", 5}}, 3, 520)
	g.family("traversal", traversalPayloads, g.traversalEvasions, []string{"file", "path", "page", "doc", "template", "download", "img", "include", "lang", "style", "filename", "folder", "view", "name", "load"},
		[]weighted{{"query", 45}, {"path", 28}, {"json", 8}, {"form", 7}, {"cookie", 5}, {"multipart", 7}}, 3, 330)
	g.family("rfi", rfiPayloads, nil, rfiParams,
		[]weighted{{"query", 60}, {"form", 15}, {"json", 15}, {"cookie", 5}, {"multipart", 5}}, 3, 160)
	g.family("cmdi", cmdiPayloads, g.cmdiEvasions, cmdiParams,
		[]weighted{{"query", 35}, {"form", 20}, {"json", 15}, {"header", 14}, {"cookie", 6}, {"path", 4}, {"multipart", 6}}, 3, 330)
	g.nosqli(170)
	g.bots()
}

// family writes n attacks of one family: each payload (with
// evasions applied to some) goes to a random placement and encoding.
func (g *gen) family(fam string, payloads []string, evasions func(string) []variant, params []string, places []weighted, perPayload, n int) {
	var all []variant
	for _, p := range payloads {
		if strings.HasPrefix(p, "%:") {
			all = append(all, variant{s: p[2:], evasion: "pre-encoded", pre: true})
			continue
		}
		if fam == "xss" {
			p = strings.ReplaceAll(p, xssAlert, g.pick(xssCalls))
		}
		all = append(all, variant{s: strings.TrimPrefix(p, "W|"), evasion: "none"})
		if evasions != nil {
			all = append(all, evasions(p)...)
		}
	}
	g.r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	count := 0
	for round := 0; count < n && round < perPayload; round++ {
		for _, v := range all {
			if count == n {
				break
			}
			g.place(fam, v, g.pick(params), g.choose(places))
			count++
		}
	}
}

// place writes one attack request with v placed in the given part.
func (g *gen) place(fam string, v variant, param, placement string) {
	e := Entry{Family: fam, Kind: fam + "/" + v.evasion, Placement: placement, Method: "GET", Headers: map[string]string{}}
	other := g.pick([]string{"", "page=1&", "lang=en&", "ref=nav&", "v=2&", "utm_source=newsletter&"})
	switch placement {
	case "query", "form":
		enc, val := g.queryEncode(v)
		e.Encoding = enc
		q := other + param + "=" + val
		if g.r.IntN(3) == 0 {
			q += "&" + g.pick([]string{"submit=Search", "sort=asc", "limit=20", "format=html", "csrf=8f3a0c2e"})
		}
		if placement == "query" {
			e.Path = g.pick([]string{"/search", "/products", "/index.php", "/api/items", "/view", "/catalog/list", "/account/orders", "/page", "/download", "/news"})
			e.Query = q
		} else {
			e.Method = "POST"
			e.Path = g.pick([]string{"/login", "/contact", "/comments", "/account/update", "/search", "/api/form", "/index.php"})
			e.ContentType = "application/x-www-form-urlencoded"
			e.Body = q
		}
	case "path":
		enc, val := g.pathEncode(v)
		e.Encoding = enc
		prefix := g.pick([]string{"/products/", "/users/", "/blog/", "/item/", "/api/v1/orders/", "/article/"})
		if fam == "traversal" {
			prefix = g.pick([]string{"/static/", "/download/", "/files/", "/images/", "/assets/", "/"})
			if strings.HasPrefix(val, "/") {
				prefix = strings.TrimSuffix(prefix, "/")
			}
		}
		e.Path = prefix + val
		if g.r.IntN(3) == 0 {
			e.Query = g.pick([]string{"v=1", "lang=en", "format=json"})
		}
	case "json":
		e.Method = g.pick([]string{"POST", "POST", "PUT", "PATCH"})
		e.Path = g.pick([]string{"/api/v1/users", "/api/search", "/api/v2/orders", "/graphql-lite", "/api/comments", "/api/profile"})
		e.ContentType = "application/json"
		enc, val := "json", jsonString(v.s)
		if g.r.IntN(4) == 0 && !v.pre {
			enc, val = "json-unicode", jsonUnicode(v.s)
		}
		e.Encoding = enc
		switch g.r.IntN(3) {
		case 0:
			e.Body = fmt.Sprintf(`{"%s":%s}`, param, val)
		case 1:
			e.Body = fmt.Sprintf(`{"id":%d,"data":{"%s":%s,"active":true}}`, g.r.IntN(9999), param, val)
		default:
			e.Body = fmt.Sprintf(`{"items":[{"sku":"A-%d","qty":1}],"%s":%s,"note":"please deliver after 5pm"}`, g.r.IntN(999), param, val)
		}
	case "multipart":
		e.Method = "POST"
		e.Path = g.pick([]string{"/upload", "/profile/avatar", "/api/import", "/support/ticket"})
		boundary := fmt.Sprintf("----WebKitFormBoundary%016x", g.r.Uint64())
		e.ContentType = "multipart/form-data; boundary=" + boundary
		e.Encoding = "raw"
		var b strings.Builder
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMy document\r\n", boundary)
		if fam == "traversal" && g.r.IntN(2) == 0 {
			e.Encoding = "filename"
			fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\r\n", boundary, strings.ReplaceAll(v.s, `"`, `%22`))
		} else {
			fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", boundary, param, v.s)
			fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nmeeting notes for monday\r\n", boundary)
		}
		fmt.Fprintf(&b, "--%s--\r\n", boundary)
		e.Body = b.String()
	case "cookie":
		e.Path = g.pick([]string{"/", "/account", "/cart", "/dashboard"})
		val := v.s
		e.Encoding = "raw"
		if v.pre || !headerSafe(val) || strings.ContainsAny(val, ";") || g.r.IntN(2) == 0 {
			if v.pre {
				val = preEncodedTransport(v.s)
				e.Encoding = "pre-encoded"
			} else {
				val = formEscape(val)
				e.Encoding = "url"
			}
		}
		name := g.pick([]string{"session_pref", "lang", "cart_id", "user", "theme", "tracking", "last_search", param})
		e.Headers["Cookie"] = fmt.Sprintf("sid=%x; %s=%s; consent=yes", g.r.Uint64(), name, val)
	case "header":
		e.Path = g.pick([]string{"/", "/index.html", "/products", "/login"})
		h := g.pick([]string{"User-Agent", "User-Agent", "Referer", "Referer", "X-Forwarded-For", "X-Forwarded-Host"})
		val := v.s
		e.Encoding = "raw"
		if h == "Referer" {
			val = "https://www.example.com/search?q=" + formEscape(v.s)
			e.Encoding = "url"
			if v.pre {
				val = "https://www.example.com/search?q=" + preEncodedTransport(v.s)
				e.Encoding = "pre-encoded"
			}
		} else if !headerSafe(val) {
			val = toolEscape(val)
			e.Encoding = "url"
		}
		if h == "User-Agent" && g.r.IntN(2) == 0 {
			val = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + val
		}
		e.Headers[h] = val
		if h == "User-Agent" {
			e.Placement = "ua"
		}
	}
	if v.evasion != "none" && e.Encoding != "" {
		e.Kind = fam + "/" + v.evasion
	}
	g.add(e)
}

// queryEncode encodes v for a query string or form body.
func (g *gen) queryEncode(v variant) (string, string) {
	if v.pre {
		if g.r.IntN(4) == 0 {
			return "pre-encoded+double", strings.ReplaceAll(preEncodedTransport(v.s), "%", "%25")
		}
		return "pre-encoded", preEncodedTransport(v.s)
	}
	switch g.choose([]weighted{{"browser", 28}, {"tool", 25}, {"form", 20}, {"mixed", 9}, {"double", 7}, {"iis-unicode", 5}, {"full", 6}}) {
	case "browser":
		return "browser", browserEscape(v.s, g.r.IntN(2) == 0)
	case "tool":
		return "tool", toolEscape(v.s)
	case "form":
		return "form", formEscape(v.s)
	case "mixed":
		return "url-mixed", mixedEscape(v.s, g.r)
	case "double":
		return "double", doubleEscape(v.s)
	case "iis-unicode":
		return "iis-unicode", unicodeEscape(v.s)
	default:
		return "url-full", fullEscape(v.s, g.r)
	}
}

// pathEncode encodes v for the path of the request line.
func (g *gen) pathEncode(v variant) (string, string) {
	if v.pre {
		return "pre-encoded", preEncodedTransport(v.s)
	}
	switch g.choose([]weighted{{"path", 60}, {"mixed", 15}, {"double", 15}, {"full", 10}}) {
	case "path":
		return "path", pathEscape(v.s)
	case "mixed":
		s := mixedEscape(v.s, g.r)
		return "url-mixed", s
	case "double":
		return "double", doubleEscape(v.s)
	default:
		return "url-full", fullEscape(v.s, g.r)
	}
}

// preEncodedTransport escapes only what would break the request line in
// a payload that is already percent-encoded.
func preEncodedTransport(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteString("%20")
		case c < ' ' || c >= 0x7f || c == '#' || c == '&' || c == '"':
			pct(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sqliEvasions returns evasive variants of an SQL injection.
func (g *gen) sqliEvasions(p string) []variant {
	var out []variant
	if g.r.IntN(2) == 0 {
		out = append(out, variant{s: mixCase(p, g.r), evasion: "case"})
	}
	if strings.Contains(p, " ") {
		switch g.r.IntN(5) {
		case 0:
			out = append(out, variant{s: strings.ReplaceAll(p, " ", "/**/"), evasion: "comment"})
		case 1:
			out = append(out, variant{s: strings.ReplaceAll(p, " ", g.pick([]string{"/*x*/", "/*!*/", "/*--*/"})), evasion: "comment"})
		case 2:
			ws := g.pick([]string{"\t", "\n", "\r\n", "\x0b", "\x0c"})
			out = append(out, variant{s: strings.ReplaceAll(p, " ", ws), evasion: "whitespace"})
		case 3:
			out = append(out, variant{s: mixCase(strings.ReplaceAll(p, " ", "/**/"), g.r), evasion: "comment+case"})
		default:
			s := p
			for _, kw := range []string{"UNION", "SELECT", "union", "select", "OR", "AND", "or", "and"} {
				s = strings.ReplaceAll(s, " "+kw+" ", " /*!50000"+kw+"*/ ")
			}
			if s != p {
				out = append(out, variant{s: s, evasion: "versioned-comment"})
			} else {
				out = append(out, variant{s: strings.ReplaceAll(p, " ", "#\n"), evasion: "hash-newline"})
			}
		}
	}
	return out
}

// xssEvasions returns evasive variants of a cross-site scripting payload.
func (g *gen) xssEvasions(p string) []variant {
	var out []variant
	p = strings.ReplaceAll(p, xssAlert, g.pick(xssCalls))
	if g.r.IntN(2) == 0 {
		out = append(out, variant{s: mixCase(p, g.r), evasion: "case"})
	}
	if i := strings.Index(p, "<"); i >= 0 {
		if j := strings.IndexByte(p[i:], ' '); j > 0 && g.r.IntN(2) == 0 {
			sep := g.pick([]string{"/", "\t", "\n", "\x0c", "/x/"})
			out = append(out, variant{s: p[:i+j] + sep + p[i+j+1:], evasion: "tag-separator"})
		} else if k := strings.Index(strings.ToLower(p), "script"); k >= 0 && g.r.IntN(2) == 0 {
			out = append(out, variant{s: p[:k+3] + "\x00" + p[k+3:], evasion: "nul"})
		}
	}
	if k := strings.Index(strings.ToLower(p), "javascript:"); k >= 0 {
		switch g.r.IntN(3) {
		case 0:
			out = append(out, variant{s: p[:k] + htmlEntities(p[k:k+11], g.r) + p[k+11:], evasion: "entities"})
		case 1:
			out = append(out, variant{s: p[:k] + "java\tscript:" + p[k+11:], evasion: "tab-in-scheme"})
		default:
			out = append(out, variant{s: p[:k] + " \x01javascript:" + p[k+11:], evasion: "control-prefix"})
		}
	}
	if strings.Contains(p, "<script>") && g.r.IntN(3) == 0 {
		out = append(out, variant{s: strings.ReplaceAll(strings.ReplaceAll(p, "<", "&lt;"), ">", "&gt;"), evasion: "entity-brackets"})
	}
	return out
}

// traversalEvasions returns evasive variants of a path traversal.
func (g *gen) traversalEvasions(p string) []variant {
	var out []variant
	if !strings.Contains(p, "../") {
		if strings.HasPrefix(p, "/etc/") || strings.HasPrefix(p, "/proc/") {
			out = append(out, variant{s: strings.Repeat("../", 3+g.r.IntN(6)) + p[1:], evasion: "dotdot"})
		}
		return out
	}
	switch g.r.IntN(8) {
	case 0:
		out = append(out, variant{s: strings.ReplaceAll(p, "/", `\`), evasion: "backslash"})
	case 1:
		out = append(out, variant{s: strings.ReplaceAll(p, "../", "....//"), evasion: "dotdot-doubled"})
	case 2:
		out = append(out, variant{s: strings.ReplaceAll(p, "../", "..%2f"), evasion: "partial-encoding", pre: true})
	case 3:
		out = append(out, variant{s: strings.ReplaceAll(strings.ReplaceAll(p, "../", "%c0%ae%c0%ae%c0%af"), "/", "%c0%af"), evasion: "overlong-utf8", pre: true})
	case 4:
		out = append(out, variant{s: strings.ReplaceAll(p, "../", "%u002e%u002e%u2215"), evasion: "iis-unicode", pre: true})
	case 5:
		out = append(out, variant{s: strings.ReplaceAll(p, "../", "..;/"), evasion: "semicolon"})
	case 6:
		out = append(out, variant{s: strings.ReplaceAll(p, "../", ".././"), evasion: "dot-slash"})
	default:
		out = append(out, variant{s: strings.ReplaceAll(p, "/", "//"), evasion: "double-slash"})
	}
	if g.r.IntN(3) == 0 && !strings.Contains(p, "%00") {
		out = append(out, variant{s: p + "%00" + g.pick([]string{".jpg", ".png", ".html", ".pdf"}), evasion: "nul-suffix", pre: true})
	}
	return out
}

// cmdiEvasions returns evasive variants of a command injection.
func (g *gen) cmdiEvasions(p string) []variant {
	if strings.HasPrefix(p, "W|") {
		p = p[2:]
		if g.r.IntN(2) == 0 {
			return []variant{{s: mixCase(p, g.r), evasion: "case"}}
		}
		return nil
	}
	var out []variant
	words := []string{"cat", "id", "whoami", "uname", "wget", "curl", "ls", "nc", "bash", "sleep", "ping"}
	switch g.r.IntN(7) {
	case 0:
		if strings.Contains(p, " ") {
			out = append(out, variant{s: strings.ReplaceAll(p, " ", g.pick([]string{"${IFS}", "$IFS$9", "${IFS%??}"})), evasion: "ifs"})
		}
	case 1:
		for _, w := range words {
			if i := strings.Index(p, w+" "); i >= 0 && len(w) > 2 {
				out = append(out, variant{s: p[:i] + w[:1] + "'" + w[1:2] + "'" + w[2:] + p[i+len(w):], evasion: "quote-split"})
				break
			}
		}
	case 2:
		for _, w := range words {
			if i := strings.Index(p, w+" "); i >= 0 && len(w) > 2 {
				out = append(out, variant{s: p[:i] + w[:1] + `\` + w[1:] + p[i+len(w):], evasion: "backslash-split"})
				break
			}
		}
	case 3:
		sep := g.pick([]string{";", "|", "||", "&&", "\n", "&"})
		s := strings.TrimLeft(p, ";|& ")
		if s != p {
			out = append(out, variant{s: sep + s, evasion: "separator"})
		}
	case 4:
		s := strings.ReplaceAll(p, "/etc/passwd", "/e??/p?ss??")
		s = strings.ReplaceAll(s, "/bin/", "/b??/")
		if s != p {
			out = append(out, variant{s: s, evasion: "glob"})
		}
	case 5:
		if strings.Contains(p, " ") {
			out = append(out, variant{s: strings.ReplaceAll(p, " ", "\t"), evasion: "tab"})
		}
	default:
		for _, w := range words {
			if i := strings.Index(p, w+" "); i >= 0 && len(w) > 2 {
				out = append(out, variant{s: p[:i] + w[:2] + "$@" + w[2:] + p[i+len(w):], evasion: "dollar-at"})
				break
			}
		}
	}
	if len(out) == 0 && g.r.IntN(2) == 0 {
		out = append(out, variant{s: g.pick([]string{"127.0.0.1", "example.com", "report.pdf", "test"}) + p, evasion: "prefixed"})
	}
	return out
}

// nosqli writes n operator-injection attacks.
func (g *gen) nosqli(n int) {
	for i := 0; i < n; i++ {
		e := Entry{Family: "nosqli", Method: "GET", Headers: map[string]string{}}
		switch k := g.choose([]weighted{{"qname", 40}, {"json", 40}, {"value", 20}}); k {
		case "qname":
			q := g.pick(nosqliQueries)
			e.Kind = "nosqli/brackets"
			e.Encoding = "raw"
			switch g.r.IntN(4) {
			case 0:
				q = strings.ReplaceAll(q, "$", "%24")
				e.Encoding = "dollar-encoded"
			case 1:
				q = strings.NewReplacer("[", "%5B", "]", "%5D", "$", "%24").Replace(q)
				e.Encoding = "url"
			}
			e.Placement = "qname"
			if g.r.IntN(2) == 0 {
				e.Method = "POST"
				e.Path = g.pick([]string{"/login", "/api/login", "/session", "/reset-password"})
				e.ContentType = "application/x-www-form-urlencoded"
				e.Body = q
				e.Placement = "form"
			} else {
				e.Path = g.pick([]string{"/api/users", "/login", "/api/products", "/search"})
				e.Query = q
			}
		case "json":
			e.Kind = "nosqli/operator"
			e.Placement = "json"
			e.Encoding = "json"
			e.Method = "POST"
			e.Path = g.pick([]string{"/api/login", "/api/users/find", "/api/auth", "/api/search", "/api/v1/session"})
			e.ContentType = "application/json"
			e.Body = g.pick(nosqliBodies)
			if g.r.IntN(5) == 0 {
				e.Body = strings.ReplaceAll(e.Body, `"$`, `"\u0024`)
				e.Encoding = "json-unicode"
			}
		default:
			v := g.pick(nosqliValues)
			e.Kind = "nosqli/js"
			if g.r.IntN(2) == 0 {
				e.Placement = "query"
				e.Path = g.pick([]string{"/api/users", "/search", "/api/find"})
				e.Query = g.pick([]string{"username", "q", "name", "user"}) + "=" + browserEscape(v, false)
				e.Encoding = "browser"
			} else {
				e.Placement = "json"
				e.Method = "POST"
				e.Path = "/api/login"
				e.ContentType = "application/json"
				e.Body = fmt.Sprintf(`{"username":%s,"password":"x"}`, jsonString(v))
				e.Encoding = "json"
			}
		}
		g.add(e)
	}
}

// bots writes requests from scanners and scripted clients.
func (g *gen) bots() {
	for _, ua := range botAgents {
		for range 2 {
			e := Entry{Family: "bot", Kind: "bot/user-agent", Placement: "ua", Method: "GET", Path: g.pick(botPaths), Headers: map[string]string{"User-Agent": ua}}
			if ua == "" {
				e.Kind = "bot/empty-user-agent"
			}
			g.add(e)
		}
	}
}
