package main

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// benign writes the benign part of the corpus.
func (g *gen) benign() {
	kinds := []struct {
		name string
		n    int
		f    func() Entry
	}{
		{"search", 560, g.bSearch},
		{"catalog", 260, g.bCatalog},
		{"article", 200, g.bArticle},
		{"form", 360, g.bForm},
		{"json", 460, g.bJSON},
		{"post", 360, g.bPost},
		{"link", 200, g.bLink},
		{"headers", 200, g.bHeaders},
		{"upload", 100, g.bUpload},
		{"static", 100, g.bStatic},
	}
	for _, k := range kinds {
		for range k.n {
			e := k.f()
			e.Family = "benign"
			if e.Kind == "" {
				e.Kind = k.name
			} else {
				e.Kind = k.name + "/" + e.Kind
			}
			if e.Headers == nil {
				e.Headers = map[string]string{}
			}
			g.add(e)
		}
	}
}

func (g *gen) name() string { return g.pick(firstNames) + " " + g.pick(lastNames) }

func (g *gen) email() string {
	f := strings.ToLower(strings.NewReplacer(" ", ".", "é", "e", "ë", "e", "ç", "c", "á", "a", "ó", "o", "ł", "l").Replace(g.pick(firstNames)))
	l := strings.ToLower(strings.ReplaceAll(g.pick([]string{"obrien", "o'brien", "smith", "garcia", "nguyen", "dangelo", "o'neil", "muller", "tanaka", "kowalski"}), " ", ""))
	sep := g.pick([]string{".", "_", "", "-", "+shop."})
	return f + sep + l + fmt.Sprint(g.r.IntN(100)) + "@" + g.pick(domains)
}

// password returns what a person or a password manager picks.
func (g *gen) password() string {
	switch g.r.IntN(4) {
	case 0:
		return g.pick([]string{"hunter2", "correct horse battery staple", "Summer2024!", "iloveyou<3", "P@ssw0rd", "Tr0ub4dor&3",
			"letmein123", "qwerty!@#", "MyDog'sName1", "b4ck-2-sch00l", "\"quoted\"pass", "p4$$w0rd", "ünïcödé-pässwörd", "12345678"})
	default:
		const chars = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!@#$%^&*()-_=+[]{};:,.<>/?~|'\""
		b := make([]byte, 12+g.r.IntN(10))
		for i := range b {
			b[i] = chars[g.r.IntN(len(chars))]
		}
		return string(b)
	}
}

func (g *gen) token(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	if g.r.IntN(2) == 0 {
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (g *gen) jwt() string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"%d","name":%s,"iat":%d}`, g.r.IntN(1e6), jsonString(g.name()), 1700000000+g.r.IntN(1e7))))
	return h + "." + p + "." + g.token(32)
}

func (g *gen) uuid() string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", g.r.Uint32(), g.r.Uint32()&0xffff, g.r.Uint32()&0xfff, 0x8000|g.r.Uint32()&0x3fff, g.r.Uint64()&0xffffffffffff)
}

// text returns 1 to n sentences.
func (g *gen) text(n int) string {
	k := 1 + g.r.IntN(n)
	parts := make([]string, k)
	for i := range parts {
		parts[i] = g.pick(sentences)
	}
	return strings.Join(parts, " ")
}

// enc encodes a query value the way browsers and clients do.
func (g *gen) enc(s string) string {
	if g.r.IntN(3) == 0 {
		return browserEscape(s, g.r.IntN(2) == 0)
	}
	return formEscape(s)
}

func (g *gen) bSearch() Entry {
	q := g.pick(searches)
	if g.r.IntN(4) == 0 {
		q = g.pick(searches) + " " + g.pick([]string{"review", "price", "near me", "2024", "vs", "best", "cheap", "how to", "\"free shipping\""})
	}
	params := []string{g.pick([]string{"q", "query", "search", "s", "k", "term"}) + "=" + g.enc(q)}
	if g.r.IntN(2) == 0 {
		params = append(params, fmt.Sprintf("page=%d", 1+g.r.IntN(20)))
	}
	if g.r.IntN(3) == 0 {
		params = append(params, "sort="+g.pick([]string{"relevance", "price_asc", "price_desc", "newest", "-rating", "name:asc"}))
	}
	if g.r.IntN(3) == 0 {
		params = append(params, "category="+g.enc(g.pick([]string{"Books", "Men's Clothing", "Home & Garden", "Toys & Games", "Électronique", "Health/Beauty"})))
	}
	if g.r.IntN(4) == 0 {
		params = append(params, "lang="+g.pick([]string{"en", "en-US", "fr", "de-CH", "ja", "zh-Hans"}))
	}
	if g.r.IntN(5) == 0 {
		params = append(params, "utm_source="+g.pick([]string{"google", "newsletter", "facebook"}), "utm_campaign="+g.enc(g.pick([]string{"spring sale", "black-friday_2024", "back to school", "20% off"})))
	}
	g.r.Shuffle(len(params), func(i, j int) { params[i], params[j] = params[j], params[i] })
	return Entry{Placement: "query", Method: "GET", Path: g.pick([]string{"/search", "/s", "/products/search", "/api/search", "/find", "/wiki/Special:Search", "/help/search"}), Query: strings.Join(params, "&")}
}

func (g *gen) bCatalog() Entry {
	path := "/products/" + g.pick(productSlugs)
	if g.r.IntN(3) == 0 {
		path = fmt.Sprintf("/p/%d/%s", 10000+g.r.IntN(90000), g.pick(productSlugs))
	}
	var params []string
	if g.r.IntN(2) == 0 {
		params = append(params, "color="+g.enc(g.pick([]string{"red", "navy blue", "off-white", "rosé", "black/white", "multi-colour"})))
	}
	if g.r.IntN(2) == 0 {
		params = append(params, "size="+g.enc(g.pick([]string{"M", "XL", "42", "10.5", "2T", "one size", "32/34", "5'8\" - 6'0\""})))
	}
	if g.r.IntN(3) == 0 {
		params = append(params, "ref="+g.pick([]string{"homepage", "search", "recs_v2", "email_2024-05", "sr_1_3"}))
	}
	if g.r.IntN(4) == 0 {
		params = append(params, "variant="+fmt.Sprint(g.r.IntN(1e9)))
	}
	if g.r.IntN(5) == 0 {
		params = append(params, "gclid="+g.token(24))
	}
	if g.r.IntN(6) == 0 {
		params = append(params, "filter="+g.enc(g.pick([]string{"price:10-50", "brand:levi's", "rating>=4", "in_stock=true", "tags:union,jack"})))
	}
	return Entry{Placement: "query", Method: "GET", Path: path, Query: strings.Join(params, "&")}
}

func (g *gen) bArticle() Entry {
	switch g.r.IntN(3) {
	case 0:
		return Entry{Kind: "wiki", Placement: "path", Method: "GET", Path: "/wiki/" + g.pick(wikiTitles)}
	case 1:
		slug := strings.ToLower(strings.NewReplacer(" ", "-", "'", "", "\"", "", ",", "", ".", "", "!", "", "?", "", ":", "", "(", "", ")", "", ";", "", "&", "and", "/", "-", "#", "", "$", "", "%", "", "+", "plus").Replace(g.pick(sentences)))
		if len(slug) > 60 {
			slug = strings.TrimRight(slug[:60], "-")
		}
		return Entry{Kind: "blog", Placement: "path", Method: "GET", Path: fmt.Sprintf("/blog/%d/%02d/%s", 2018+g.r.IntN(7), 1+g.r.IntN(12), pathEscape(slug)), Query: g.pick([]string{"", "", "ref=rss", "utm_medium=social", "comments=1"})}
	default:
		return Entry{Kind: "api", Placement: "path", Method: g.pick([]string{"GET", "GET", "DELETE", "HEAD"}), Path: g.pick([]string{
			fmt.Sprintf("/api/v2/users/%d/orders", g.r.IntN(99999)),
			fmt.Sprintf("/api/v1/items/%s", g.uuid()),
			fmt.Sprintf("/users/%s/profile", pathEscape(strings.ToLower(g.pick([]string{"obrien", "o'brien", "jean-luc", "zoë", "d_angelo", "union_fan", "select.bob", "mary.kate"})))),
			fmt.Sprintf("/files/%s", pathEscape(g.pick([]string{"report (final).pdf", "Q3 results & outlook.xlsx", "o'brien-cv.docx", "photo 2024-05-01.jpg", "notes.txt", "résumé.pdf", "backup-2024.tar.gz", "select_from_union.sql"}))),
			fmt.Sprintf("/repos/%s/blob/main/%s", g.pick([]string{"golang/go", "torvalds/linux", "facebook/react"}), g.pick([]string{"src/net/http/server.go", "README.md", "docs/CONTRIBUTING.md", "scripts/install.sh", "etc/config.yaml"})),
		})}
	}
}

func (g *gen) bForm() Entry {
	e := Entry{Placement: "form", Method: "POST", ContentType: "application/x-www-form-urlencoded"}
	var p []string
	switch g.r.IntN(5) {
	case 0:
		e.Kind = "login"
		e.Path = g.pick([]string{"/login", "/signin", "/account/login", "/wp-login.php"})
		p = []string{"username=" + g.enc(g.pick([]string{g.email(), strings.ToLower(g.pick(firstNames)) + fmt.Sprint(g.r.IntN(99)), "o'brien.sean", "admin_john", "mary-kate"})), "password=" + formEscape(g.password())}
		if g.r.IntN(2) == 0 {
			p = append(p, "remember=on")
		}
		p = append(p, "csrf_token="+g.token(24))
	case 1:
		e.Kind = "register"
		e.Path = "/register"
		pw := g.password()
		p = []string{"name=" + g.enc(g.name()), "email=" + g.enc(g.email()), "password=" + formEscape(pw), "password_confirm=" + formEscape(pw), "terms=1"}
	case 2:
		e.Kind = "contact"
		e.Path = g.pick([]string{"/contact", "/support/new", "/feedback"})
		p = []string{"name=" + g.enc(g.name()), "email=" + g.enc(g.email()), "subject=" + g.enc(g.pick([]string{"Order question", "Re: delivery", "Return request #123", "Can't log in", "Feedback & ideas", "Question about 'premium' plan"})), "message=" + g.enc(g.text(4))}
	case 3:
		e.Kind = "checkout"
		e.Path = "/checkout/address"
		p = []string{"full_name=" + g.enc(g.name()), "address1=" + g.enc(g.pick(streets)), "city=" + g.enc(g.pick(cities)), "zip=" + g.enc(g.pick([]string{"10001", "SW1A 1AA", "75008", "100-0001", "H2X 1Y4", "D02 X285"})), "phone=" + g.enc(g.pick([]string{"+1 (555) 123-4567", "+44 20 7946 0958", "030/1234567", "+81-3-1234-5678"})), "instructions=" + g.enc(g.pick([]string{"", "Leave at the back door", "Ring twice; dog is friendly", "Call on arrival - 5 min", "Don't leave with neighbour #12"}))}
	default:
		e.Kind = "settings"
		e.Path = "/account/settings"
		p = []string{"display_name=" + g.enc(g.name()), "bio=" + g.enc(g.text(2)), "website=" + g.enc(g.pick(urls)), "timezone=" + g.enc(g.pick([]string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"})), "newsletter=" + g.pick([]string{"0", "1"})}
	}
	e.Body = strings.Join(p, "&")
	return e
}

func (g *gen) bJSON() Entry {
	e := Entry{Placement: "json", Method: g.pick([]string{"POST", "POST", "PUT", "PATCH"}), ContentType: "application/json", Headers: map[string]string{"Accept": "application/json"}}
	if g.r.IntN(3) == 0 {
		e.Headers["Authorization"] = "Bearer " + g.jwt()
	}
	switch g.r.IntN(8) {
	case 0:
		e.Kind = "user"
		e.Path = "/api/v1/users"
		e.Body = fmt.Sprintf(`{"name":%s,"email":%s,"address":{"street":%s,"city":%s},"tags":[%s,%s],"age":%d,"newsletter":%t}`,
			jsonString(g.name()), jsonString(g.email()), jsonString(g.pick(streets)), jsonString(g.pick(cities)),
			jsonString(g.pick([]string{"vip", "wholesale", "o'brien-family", "union-member"})), jsonString(g.pick([]string{"new", "returning", "select", "b2b"})), 18+g.r.IntN(70), g.r.IntN(2) == 0)
	case 1:
		e.Kind = "order"
		e.Path = "/api/v2/orders"
		e.Body = fmt.Sprintf(`{"items":[{"sku":"SKU-%05d","qty":%d,"price":%d.%02d},{"sku":"SKU-%05d","qty":1}],"coupon":%s,"note":%s,"currency":"USD","total":"$%d.99"}`,
			g.r.IntN(99999), 1+g.r.IntN(5), g.r.IntN(200), g.r.IntN(100), g.r.IntN(99999), jsonString(g.pick([]string{"", "SUMMER20", "SAVE-10", "FREESHIP"})), jsonString(g.text(2)), g.r.IntN(500))
	case 2:
		e.Kind = "event"
		e.Path = "/api/collect"
		e.Body = fmt.Sprintf(`{"event":%s,"url":%s,"referrer":%s,"ua":%s,"screen":"%dx%d","ts":%d,"session":%s}`,
			jsonString(g.pick([]string{"page_view", "add_to_cart", "click", "scroll_depth", "form_submit"})), jsonString(g.pick(urls)), jsonString(g.pick(urls)),
			jsonString(g.pick(browserAgents)), 360+g.r.IntN(3000), 640+g.r.IntN(1500), 1700000000000+g.r.Int64N(1e10), jsonString(g.uuid()))
	case 3:
		e.Kind = "graphql"
		e.Path = "/graphql"
		e.Body = fmt.Sprintf(`{"query":%s,"variables":{"id":%s,"first":10,"text":%s,"orderBy":{"field":"CREATED_AT","direction":"DESC"}}}`,
			jsonString(g.pick(graphqlQueries)), jsonString(g.uuid()), jsonString(g.pick(searches)))
	case 4:
		e.Kind = "schema"
		e.Path = "/api/schemas"
		e.Body = g.pick(jsonSchemas)
	case 5:
		e.Kind = "comment"
		e.Path = "/api/comments"
		body := g.text(3)
		if g.r.IntN(4) == 0 {
			body = g.pick(techProse)
		}
		e.Body = fmt.Sprintf(`{"post_id":%d,"author":%s,"body":%s,"reply_to":null,"mentions":[%s]}`, g.r.IntN(1e5), jsonString(g.name()), jsonString(body), jsonString("@"+strings.ToLower(g.pick(firstNames))))
	case 6:
		e.Kind = "settings"
		e.Path = "/api/me/preferences"
		e.Body = fmt.Sprintf(`{"theme":%s,"language":%s,"notifications":{"email":%t,"push":%t},"homepage":%s,"signature":%s,"avatar":"data:image/png;base64,%s"}`,
			jsonString(g.pick([]string{"dark", "light", "system"})), jsonString(g.pick([]string{"en", "fr-CA", "pt-BR", "zh-Hant"})), g.r.IntN(2) == 0, g.r.IntN(2) == 0,
			jsonString(g.pick(urls)), jsonString(g.pick([]string{"-- \nJohn", "Cheers, Mary :)", "Sent from my phone", "Regards,\nO'Brien & Co.", ""})), g.token(48))
	default:
		e.Kind = "search"
		e.Path = "/api/search"
		e.Body = fmt.Sprintf(`{"query":{"bool":{"must":[{"match":{"title":%s}}],"filter":[{"range":{"price":{"gte":%d,"lte":%d}}}]}},"size":20,"from":%d,"sort":[{"_score":"desc"}]}`,
			jsonString(g.pick(searches)), g.r.IntN(50), 50+g.r.IntN(500), 20*g.r.IntN(10))
	}
	return e
}

func (g *gen) bPost() Entry {
	var body string
	switch g.r.IntN(20) {
	case 0, 1, 2:
		body = g.pick(techProse) + " " + g.text(2)
	case 3:
		body = "Here's what I tried:\n\n```\n" + g.pick(codeSnippets) + "\n```\n\n" + g.text(1)
	case 4, 5:
		body = g.pick(richTexts)
	case 6:
		body = g.text(2) + "\n\n> " + g.pick(sentences) + "\n\n**Edit:** " + g.pick(sentences)
	default:
		body = g.text(5)
	}
	e := Entry{Placement: "form", Method: "POST", Path: g.pick([]string{"/forum/post", "/comments", "/reviews/new", "/messages/send", "/blog/comment"})}
	if g.r.IntN(3) == 0 {
		e.Placement = "json"
		e.ContentType = "application/json"
		e.Body = fmt.Sprintf(`{"title":%s,"body":%s,"tags":["%s"],"draft":false}`, jsonString(g.pick(sentences)), jsonString(body), g.pick([]string{"help", "review", "question", "off-topic"}))
		return e
	}
	e.ContentType = "application/x-www-form-urlencoded"
	e.Body = "title=" + formEscape(g.pick(sentences)) + "&body=" + formEscape(body) + "&rating=" + fmt.Sprint(1+g.r.IntN(5)) + "&_csrf=" + g.token(18)
	return e
}

func (g *gen) bLink() Entry {
	e := Entry{Placement: "query", Method: "GET"}
	switch g.r.IntN(6) {
	case 0:
		e.Kind = "redirect"
		e.Path = "/login"
		e.Query = "next=" + g.enc(g.pick([]string{"/account/orders", "/cart?step=2", "/search?q=o'brien", "/settings#security", "/", "/wiki/Rock_'n'_roll"}))
	case 1:
		e.Kind = "outbound"
		e.Path = g.pick([]string{"/out", "/redirect", "/l", "/away"})
		e.Query = g.pick([]string{"url", "u", "to", "target", "link"}) + "=" + formEscape(g.pick(urls))
	case 2:
		e.Kind = "oauth"
		e.Path = "/oauth/callback"
		e.Query = "code=" + g.token(30) + "&state=" + g.token(16) + "&scope=" + formEscape("openid profile email")
	case 3:
		e.Kind = "share"
		e.Path = "/share"
		e.Query = "url=" + formEscape(g.pick(urls)) + "&title=" + g.enc(g.pick(sentences)) + "&via=" + g.pick([]string{"twitter", "email", "whatsapp"})
	case 4:
		e.Kind = "image-proxy"
		e.Path = "/img"
		e.Query = "src=" + formEscape("https://cdn.example.com/u/"+fmt.Sprint(g.r.IntN(1e6))+"/"+g.pick([]string{"photo.jpg", "avatar.png", "banner@2x.webp"})) + fmt.Sprintf("&w=%d&q=80", 100*(1+g.r.IntN(12)))
	default:
		e.Kind = "callback"
		e.Path = "/api/webhooks/register"
		e.Query = "callback=" + formEscape(g.pick([]string{"https://hooks.example.com/services/T000/B000/XXXX", "https://app.example.org/webhooks/stripe", "https://example.net/cb?id=42"})) + "&events=" + formEscape("order.created,order.paid")
	}
	return e
}

func (g *gen) bHeaders() Entry {
	e := Entry{Placement: "header", Method: "GET", Path: g.pick([]string{"/", "/account", "/cart", "/products", "/blog/"}), Headers: map[string]string{}}
	cookies := []string{
		"_ga=GA1." + fmt.Sprint(2+g.r.IntN(2)) + "." + fmt.Sprint(g.r.IntN(1e9)) + "." + fmt.Sprint(1700000000+g.r.IntN(1e7)),
		"_fbp=fb.1." + fmt.Sprint(1700000000000+g.r.Int64N(1e10)) + "." + fmt.Sprint(g.r.IntN(1e9)),
		"session=" + g.token(32),
	}
	switch g.r.IntN(5) {
	case 0:
		cookies = append(cookies, "jwt="+g.jwt())
	case 1:
		cookies = append(cookies, "prefs="+formEscape(fmt.Sprintf(`{"theme":"dark","lang":"%s","recent":["o'brien","union jack"]}`, g.pick([]string{"en", "de", "ja"}))))
	case 2:
		cookies = append(cookies, "cart="+formEscape(fmt.Sprintf("SKU-%d:2|SKU-%d:1", g.r.IntN(99999), g.r.IntN(99999))))
	case 3:
		cookies = append(cookies, "last_search="+formEscape(g.pick(searches)))
	default:
		cookies = append(cookies, "consent="+formEscape("necessary,analytics;v=2"), "tz=Europe%2FBerlin")
	}
	e.Headers["Cookie"] = strings.Join(cookies, "; ")
	if g.r.IntN(2) == 0 {
		e.Headers["Referer"] = g.pick([]string{
			"https://www.google.com/search?q=" + formEscape(g.pick(searches)),
			"https://www.bing.com/search?q=" + formEscape(g.pick(searches)) + "&form=QBLH",
			"https://duckduckgo.com/?q=" + formEscape(g.pick(searches)),
			g.pick(urls),
		})
	}
	if g.r.IntN(3) == 0 {
		e.Headers["X-Forwarded-For"] = fmt.Sprintf("203.0.113.%d, 10.0.%d.%d", g.r.IntN(255), g.r.IntN(255), g.r.IntN(255))
	}
	if g.r.IntN(4) == 0 {
		e.Headers["X-Forwarded-Host"] = g.pick([]string{"shop.example.com", "www.example.org:8443", "api.example.net"})
	}
	if g.r.IntN(3) == 0 {
		e.Headers["Accept-Language"] = g.pick([]string{"en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "ja,en-US;q=0.7", "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"})
	}
	if g.r.IntN(4) == 0 {
		e.Headers["If-None-Match"] = `W/"` + g.token(8) + `"`
	}
	return e
}

func (g *gen) bUpload() Entry {
	boundary := fmt.Sprintf("----WebKitFormBoundary%016x", g.r.Uint64())
	var b strings.Builder
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%s\r\n", boundary, g.pick(sentences))
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n%s\r\n", boundary, g.text(3))
	name := g.pick([]string{"résumé (final).pdf", "O'Brien photo.jpg", "IMG_2024-05-01 12.30.45.heic", "Q3 report & forecast.xlsx", "notes.txt", "union-flag.png", "select-menu.sketch", "data[1].csv"})
	ct := g.pick([]string{"image/jpeg", "application/pdf", "text/plain", "application/octet-stream"})
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: %s\r\n\r\n", boundary, name, ct)
	if ct == "text/plain" {
		b.WriteString(g.text(4))
	} else {
		raw := make([]byte, 200+g.r.IntN(600))
		for i := range raw {
			raw[i] = byte(g.r.Uint32())
		}
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return Entry{Placement: "multipart", Method: "POST", Path: g.pick([]string{"/upload", "/profile/avatar", "/api/documents", "/support/attach"}), ContentType: "multipart/form-data; boundary=" + boundary, Body: b.String()}
}

func (g *gen) bStatic() Entry {
	return Entry{Placement: "path", Method: "GET", Path: g.pick([]string{
		fmt.Sprintf("/static/js/app.%x.js", g.r.Uint32()), fmt.Sprintf("/static/css/main.%x.css", g.r.Uint32()), "/favicon.ico", "/robots.txt",
		"/images/hero%20banner.png", "/fonts/Inter-Var.woff2", "/sitemap.xml", "/manifest.webmanifest", "/apple-touch-icon.png",
		fmt.Sprintf("/media/uploads/2024/%02d/IMG_%04d.jpg", 1+g.r.IntN(12), g.r.IntN(10000)), "/health", "/.well-known/security.txt",
		"/assets/vendor/jquery-3.7.1.min.js", "/docs/v1.2/getting-started.html", "/downloads/app-1.4.2-x86_64.AppImage",
	}), Query: g.pick([]string{"", "", "v=3", "ver=6.4.2", fmt.Sprintf("t=%d", 1700000000+g.r.IntN(1e7))})}
}
