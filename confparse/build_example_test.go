package confparse_test

import (
	"fmt"

	"github.com/phalanx-lb/phalanx/confparse"
)

func ExampleLoadBytes() {
	src := []byte(`
upstream app {
    server 10.0.0.1:8000 weight=2;
    server 10.0.0.2:8000;
}
http {
    server {
        listen 8080;
        server_name example.com;
        route /api { upstream app; add_header X-Env prod; }
    }
}
`)
	cfg, err := confparse.LoadBytes("phalanx.conf", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := cfg.Servers[0]
	fmt.Println(s.Listen, s.ServerNames, s.Routes[0].Prefix, "->", s.Routes[0].Upstream)
	fmt.Println(cfg.Upstreams[0].Algorithm, cfg.Upstreams[0].Servers[0].Weight, s.ClientMaxBodySize)

	// Every mistake is reported, with where it is and what to do.
	_, err = confparse.LoadBytes("phalanx.conf", []byte(`
http {
    server {
        listen 8080 ssl;
        route /api { upstrem app; }
        route /web { upstream ap; }
    }
}
upstream app { server 10.0.0.1:8000; health_check interval=5x; }
`))
	fmt.Println(err)
	// Output:
	// [0.0.0.0:8080] [example.com] /api -> app
	// roundrobin 2 1048576
	// phalanx.conf:4:21: "listen" takes 1 argument (listen ADDR;), got 2; TLS is on when the server has ssl_certificate and ssl_certificate_key, so drop "ssl"
	// phalanx.conf:5:22: unknown directive "upstrem" inside "route"; did you mean "upstream"?
	// phalanx.conf:6:31: route "/web" uses undefined upstream "ap"; did you mean "app"?
	// phalanx.conf:9:51: invalid duration "5x" for "interval": use a number with ms, s, m, h or d, e.g. 5s
}
