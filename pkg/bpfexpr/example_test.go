package bpfexpr_test

import (
	"errors"
	"fmt"

	"github.com/kubectl-shark/kubectl-shark/pkg/bpfexpr"
)

func ExampleCompile() {
	prog, err := bpfexpr.Compile("ip and tcp dst port 80", bpfexpr.LinkTypeEthernet, 262144)
	if err != nil {
		fmt.Println(err)
		return
	}
	// prog.Instructions() is ready for SO_ATTACH_FILTER; prog.Match runs
	// the same program in Go.
	fmt.Print(prog)
	// Output:
	// (000) ldh      [12]
	// (001) jeq      #0x800           jt 2	jf 10
	// (002) ldb      [23]
	// (003) jeq      #0x6             jt 4	jf 10
	// (004) ldh      [20]
	// (005) jset     #0x1fff          jt 10	jf 6
	// (006) ldxb     4*([14]&0xf)
	// (007) ldh      [x + 16]
	// (008) jeq      #0x50            jt 9	jf 10
	// (009) ret      #262144
	// (010) ret      #0
}

func ExampleSyntaxError() {
	_, err := bpfexpr.Compile("tcp prot 80", bpfexpr.LinkTypeEthernet, 262144)
	fmt.Println(err)
	_, err = bpfexpr.Compile("mpls 100 and tcp", bpfexpr.LinkTypeEthernet, 262144)
	fmt.Println(errors.Is(err, bpfexpr.ErrUnsupported))
	// Output:
	// tcp prot 80
	//     ^ unexpected name "prot", expected 'and', 'or' or end of expression (tcpdump filter syntax: see `man 7 pcap-filter`)
	// true
}
