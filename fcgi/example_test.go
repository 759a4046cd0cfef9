package fcgi_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"net/http/httptest"

	"github.com/phalanx-lb/phalanx/fcgi"
)

// A FastCGI backend stands in for php-fpm here: net/http/fcgi's server,
// answering with the script php-fpm would run and its PATH_INFO.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go stdfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := stdfcgi.ProcessEnv(r)
		w.Header().Set("X-Powered-By", "fake-fpm")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s runs %s for %s, name=%s\n",
			env["SERVER_SOFTWARE"], env["SCRIPT_FILENAME"], r.Header.Get("User-Agent"), r.URL.Query().Get("name"))
	}))

	h := &fcgi.Handler{
		Addr:   ln.Addr().String(),
		Root:   "/var/www",
		Params: []fcgi.Param{{Name: "APP_ENV", Value: "prod"}},
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/blog/index.php/posts/7?name=gopher", nil)
	req.Header.Set("User-Agent", "example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.Status, res.Header.Get("X-Powered-By"))
	fmt.Print(string(body))
	// Output:
	// 418 I'm a teapot fake-fpm
	// phalanx runs /var/www/blog/index.php for example, name=gopher
}
