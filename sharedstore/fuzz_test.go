package sharedstore

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseURL checks that any Config.URL either gives options with an
// address or an error wrapping ErrURL, without panicking.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://localhost:6379/0", "redis://u:p@10.0.0.5:6380/3", "rediss://[::1]:6379/1", "redis://host",
		"redis://host:6379/x", "redis://:6379", "redis://host:99999", "http://host", "redis://host/0?db=1", "redis://%zz",
		"redis://[::1", "unix:///tmp/redis.sock",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opt, err := parseURL(s)
		if err != nil {
			if !errors.Is(err, ErrURL) {
				t.Fatalf("parseURL(%q) = %v, want an error wrapping ErrURL", s, err)
			}
			return
		}
		if opt.Addr == "" || strings.HasPrefix(opt.Addr, ":") {
			t.Fatalf("parseURL(%q) = Addr %q, want a host", s, opt.Addr)
		}
	})
}
