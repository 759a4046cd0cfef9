package confparse_test

import (
	"fmt"

	"github.com/phalanx-lb/phalanx/confparse"
)

func ExampleParse() {
	src := `upstream app {
    server 10.0.0.1:8000 weight=2;   # the big one
}
route /api { upstream app; add_header X-Env "prod"; }
`
	ds, err := confparse.Parse("phalanx.conf", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	var walk func(ds []*confparse.Directive, indent string)
	walk = func(ds []*confparse.Directive, indent string) {
		for _, d := range ds {
			fmt.Printf("%s%s: %s", indent, d.Pos, d.Name)
			for _, a := range d.Args {
				fmt.Printf(" %s@%d:%d", a, a.Pos.Line, a.Pos.Col)
			}
			fmt.Println()
			walk(d.Block, indent+"  ")
		}
	}
	walk(ds, "")

	_, err = confparse.Parse("bad.conf", []byte("server {\n    listen 80\n}\n"))
	fmt.Println(err)
	// Output:
	// phalanx.conf:1:1: upstream app@1:10
	//   phalanx.conf:2:5: server 10.0.0.1:8000@2:12 weight=2@2:26
	// phalanx.conf:4:1: route /api@4:7
	//   phalanx.conf:4:14: upstream app@4:23
	//   phalanx.conf:4:28: add_header X-Env@4:39 "prod"@4:45
	// bad.conf:3:1: expected ";" or "{" after the arguments of "listen", found "}"
}

func ExampleFormat() {
	src := "http{server{listen 80;# main port\nroute /{upstream app;add_header X-Msg 'hello world';}route /health{}}}"
	ds, err := confparse.Parse("phalanx.conf", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(confparse.Format(ds)))
	// Output:
	// http {
	//     server {
	//         listen 80;
	//
	//         route / {
	//             upstream app;
	//             add_header X-Msg "hello world";
	//         }
	//
	//         route /health {}
	//     }
	// }
}
