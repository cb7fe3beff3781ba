//go:build cgo && unix

package capfilter

/*
#cgo LDFLAGS: -lpcap
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>

// shark_compile compiles expr for a link type and copies libpcap's error message into
// errbuf. pcap_open_dead takes a DLT_ value; pcap files carry LINKTYPE_ values, which
// differ for a few link types.
static int shark_compile(int linktype, int snaplen, const char *expr, struct bpf_program *prog, char *errbuf, size_t errlen) {
	int dlt = linktype;
	switch (linktype) {
	case 100: dlt = DLT_ATM_RFC1483; break; // LINKTYPE_ATM_RFC1483
	case 101: dlt = DLT_RAW; break;         // LINKTYPE_RAW
	}
	pcap_t *p = pcap_open_dead(dlt, snaplen);
	if (p == NULL) {
		snprintf(errbuf, errlen, "pcap_open_dead failed");
		return -1;
	}
	int rc = pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (rc < 0) {
		snprintf(errbuf, errlen, "%s", pcap_geterr(p));
	}
	pcap_close(p);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
)

// libpcap before 1.8 had a non-reentrant parser; compiling is rare, so always serialize.
var compileMu sync.Mutex

// haveLibpcap is true in builds linked with libpcap.
const haveLibpcap = true

// compileLibpcap compiles with libpcap itself: the fallback for syntax the pure-Go
// compiler does not support, and the tests' oracle.
func compileLibpcap(expr string, linkType layers.LinkType, snaplen int) (*Filter, error) {
	if snaplen <= 0 || snaplen > 1<<30 {
		snaplen = 262144
	}
	if strings.IndexByte(expr, 0) >= 0 {
		return nil, fmt.Errorf("compiling filter %q: it contains a NUL byte %s", expr, hint)
	}
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	var prog C.struct_bpf_program
	var errbuf [C.PCAP_ERRBUF_SIZE + 64]C.char

	compileMu.Lock()
	rc := C.shark_compile(C.int(linkType), C.int(snaplen), cexpr, &prog, &errbuf[0], C.size_t(len(errbuf)))
	compileMu.Unlock()
	if rc < 0 {
		return nil, fmt.Errorf("compiling filter %q for %s: %s %s", expr, linkName(linkType), C.GoString(&errbuf[0]), hint)
	}
	defer C.pcap_freecode(&prog)

	insns := unsafe.Slice(prog.bf_insns, int(prog.bf_len))
	f := &Filter{expr: expr, linkType: linkType, prog: make([]Instruction, len(insns))}
	for i, in := range insns {
		f.prog[i] = Instruction{Code: uint16(in.code), Jt: uint8(in.jt), Jf: uint8(in.jf), K: uint32(in.k)}
	}
	if err := validate(f.prog); err != nil { // libpcap's output always passes
		return nil, fmt.Errorf("compiling filter %q for %s: libpcap produced an invalid program: %w", expr, linkName(linkType), err)
	}
	return f, nil
}
