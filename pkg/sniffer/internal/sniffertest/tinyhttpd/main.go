// Command tinyhttpd is the server inside the sniffer tests' container image:
// a static binary that answers every HTTP request on :80 with a fixed body.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

// Body is what every request gets.
const Body = "hello from the container\n"

func main() {
	addr := ":80"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, Body) })
	log.Fatal(http.ListenAndServe(addr, nil))
}
