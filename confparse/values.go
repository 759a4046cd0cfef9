package confparse

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The value parsers below return errors whose text completes the sentence
// `invalid KIND "VALUE" for "DIRECTIVE": ...`; the builder adds the front.

// durationUnits are the suffixes of parseDuration, largest first. A
// duration lists each unit at most once, largest first, as nginx requires.
var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"ms", time.Millisecond}, // before "m" so that "5ms" is not 5m + "s"
	{"m", time.Minute},
	{"s", time.Second},
}

// durationRank orders the units for the "largest first" rule.
var durationRank = map[string]int{"d": 0, "h": 1, "m": 2, "s": 3, "ms": 4}

var errDuration = errors.New("use a number with ms, s, m, h or d, e.g. 5s")

// parseDuration parses an nginx time: "500ms", "5s", "1m", "1h", "1d",
// combinations such as "1m30s" (largest unit first, each unit once), or a
// plain number of seconds ("3600"). Fractions are not accepted, as in
// nginx: write 1500ms rather than 1.5s.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errDuration
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, errors.New("too large")
		}
		return time.Duration(n) * time.Second, nil
	}
	if strings.Contains(s, ".") {
		return 0, errors.New("use whole numbers, e.g. 1500ms rather than 1.5s")
	}
	var total time.Duration
	last := -1
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, errDuration
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, errors.New("too large")
		}
		s = s[i:]
		var unit time.Duration
		var suffix string
		for _, u := range durationUnits {
			if strings.HasPrefix(s, u.suffix) {
				unit, suffix = u.unit, u.suffix
				break
			}
		}
		if unit == 0 {
			return 0, errDuration
		}
		s = s[len(suffix):]
		if r := durationRank[suffix]; r <= last {
			return 0, errors.New("give each unit once, largest first, e.g. 1h30m")
		} else {
			last = r
		}
		if n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, errors.New("too large")
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

var errSize = errors.New("use a number of bytes with an optional k, m or g suffix, e.g. 10m")

// parseSize parses an nginx size: a number of bytes with an optional k, m
// or g suffix in either case (1024, 8k, 1m, 1G); the multipliers are
// powers of 1024.
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, errSize
	}
	num, mult := s, int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		num, mult = s[:len(s)-1], 1<<10
	case 'm', 'M':
		num, mult = s[:len(s)-1], 1<<20
	case 'g', 'G':
		num, mult = s[:len(s)-1], 1<<30
	}
	if !isDigits(num) {
		return 0, errSize
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// parseBool parses on, off, true or false, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, errors.New("use on, off, true or false")
}

// parseInt parses a whole number in [lo, hi]; want completes the error
// ("use WANT").
func parseInt(s string, lo, hi int, want string) (int, error) {
	if isDigits(strings.TrimPrefix(s, "-")) {
		if n, err := strconv.Atoi(s); err == nil && n >= lo && n <= hi {
			return n, nil
		}
	}
	return 0, errors.New("use " + want)
}

// parseFloat parses a plain decimal number (digits with at most one dot,
// no sign, exponent, NaN or Inf) for which ok returns true.
func parseFloat(s string, ok func(float64) bool, want string) (float64, error) {
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return 0, errors.New("use " + want)
		}
	}
	if digits == 0 || dots > 1 {
		return 0, errors.New("use " + want)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || !ok(f) {
		return 0, errors.New("use " + want)
	}
	return f, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseBind parses the address of listen, admin_bind and tcp_bind and
// returns it as HOST:PORT: "8080" and "*:8080" mean 0.0.0.0:8080; IPv6
// hosts are bracketed ("[::1]:8080"); a host name is kept as written. The
// port may be 0 (any free port).
func parseBind(s string) (string, error) {
	if isDigits(s) {
		p, err := parsePort(s, 0)
		if err != nil {
			return "", err
		}
		return "0.0.0.0:" + strconv.Itoa(p), nil
	}
	if strings.HasPrefix(s, "*:") {
		s = "0.0.0.0" + s[1:]
	}
	return parseHostPort(s, 0, "0.0.0.0:8080")
}

// parseHostPort parses HOST:PORT, where HOST is an IP address (IPv6 in
// brackets) or a host name, and PORT is in [minPort, 65535]. An IP host is
// returned in canonical form.
func parseHostPort(s string, minPort int, example string) (string, error) {
	hint := "use HOST:PORT, e.g. " + example
	if isDigits(s) {
		return "", errors.New("give the host too, e.g. 127.0.0.1:" + s)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return "", errors.New("add a port, e.g. " + s + ":" + portOf(example))
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		if _, err := netip.ParseAddr(s); err == nil || validHostname(s) {
			return "", errors.New("add a port, e.g. " + s + ":" + portOf(example))
		}
		return "", errors.New(hint)
	}
	host, port := s[:i], s[i+1:]
	p, err := parsePort(port, minPort)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() {
			return "", errors.New("bad IPv6 address in brackets; " + hint)
		}
		return netip.AddrPortFrom(a, uint16(p)).String(), nil
	}
	if strings.Contains(host, ":") {
		return "", errors.New("put an IPv6 address in brackets, e.g. [::1]:" + port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a, uint16(p)).String(), nil
	}
	if !validHostname(host) {
		return "", errors.New(hint)
	}
	return host + ":" + strconv.Itoa(p), nil
}

func portOf(hostport string) string { return hostport[strings.LastIndexByte(hostport, ':')+1:] }

func parsePort(s string, minPort int) (int, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("the port must be a number from %d to 65535", minPort)
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < minPort || p > 65535 {
		return 0, fmt.Errorf("the port must be a number from %d to 65535", minPort)
	}
	return p, nil
}

// validHostname reports whether s is a DNS name: dot-separated labels of
// letters, digits, '-' and '_' (underscores occur in container service
// names), no label empty or starting or ending with '-'.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parseBackend parses the HOST:PORT of an upstream server; the port is
// required and not 0.
func parseBackend(s string) (string, error) {
	if strings.HasPrefix(s, "unix:") {
		return "", errors.New("unix sockets are not supported for upstream servers; use HOST:PORT, e.g. 127.0.0.1:9001")
	}
	if strings.Contains(s, "://") {
		return "", errors.New("write HOST:PORT without a scheme, e.g. " + stripScheme(s))
	}
	return parseHostPort(s, 1, "127.0.0.1:9001")
}

// parsePass parses the address of fastcgi_pass and uwsgi_pass: HOST:PORT
// or unix:/path.
func parsePass(s string) (string, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return "", errors.New("give the socket path, e.g. unix:/run/php/php-fpm.sock")
		}
		return s, nil
	}
	a, err := parseHostPort(s, 1, "127.0.0.1:9000")
	if err != nil {
		return "", errors.New(strings.Replace(err.Error(), "use HOST:PORT", "use HOST:PORT or unix:/PATH", 1))
	}
	return a, nil
}

// stripScheme turns "http://10.0.0.1:80/x" into "10.0.0.1:80".
func stripScheme(s string) string {
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

// parsePrefix parses set_real_ip_from: a CIDR, or an address alone meaning
// a /32 or /128. Host bits are cleared, as nginx does ("10.1.2.3/8" is
// 10.0.0.0/8).
func parsePrefix(s string) (netip.Prefix, error) {
	hint := errors.New("use an address or CIDR, e.g. 10.0.0.0/8 or 192.168.1.10")
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, hint
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, hint
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseServerName checks one server_name: a host name, an IP address, or
// "*." followed by a host name.
func parseServerName(s string) error {
	switch {
	case s == "_":
		return errors.New(`"_" is nginx's catch-all convention; in phalanx, leave out server_name to match any host`)
	case strings.HasPrefix(s, "~"):
		return errors.New("regular expressions are not supported; use a name or *.domain")
	case strings.HasSuffix(s, ".*"):
		return errors.New("only a leading wildcard is supported, e.g. *.example.com")
	case strings.Contains(s, ":") && !strings.HasPrefix(s, "["):
		if _, err := netip.ParseAddr(s); err == nil {
			return nil
		}
		return errors.New("give the host without a port; the port goes in listen")
	}
	name := strings.TrimPrefix(s, "*.")
	if strings.Contains(name, "*") {
		return errors.New("only a leading wildcard is supported, e.g. *.example.com")
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return nil
	}
	if !validHostname(name) {
		return errors.New("use a host name such as example.com or *.example.com")
	}
	return nil
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s may be sent as a field value: no
// control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// checkRedisURL checks a shared_store URL: redis://[user:password@]HOST:PORT[/DB].
func checkRedisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("write redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0")
	}
	if u.Scheme != "redis" {
		return fmt.Errorf("the scheme must be redis, not %q (TLS is not supported yet)", u.Scheme)
	}
	if u.Host == "" || u.Port() == "" {
		return errors.New("give HOST:PORT, e.g. redis://127.0.0.1:6379/0")
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 || n > 15 {
			return fmt.Errorf("the database %q must be a number from 0 to 15", db)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("a query or fragment is not supported; write redis://HOST:PORT/DB")
	}
	return nil
}

// checkSRVName checks an SRV name of the form _service._proto.name.
func checkSRVName(s string) error {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 3 || !strings.HasPrefix(parts[0], "_") || len(parts[0]) < 2 ||
		(parts[1] != "_tcp" && parts[1] != "_udp") || parts[2] == "" || strings.Contains(s, ":") {
		return errors.New("write _SERVICE._tcp.NAME, e.g. _http._tcp.app.internal")
	}
	return nil
}
