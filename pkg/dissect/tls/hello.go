package tls

import "errors"

// Extension types (IANA TLS ExtensionType Values).
const (
	extServerName        = 0
	extALPN              = 16
	extSupportedVersions = 43
)

const (
	maxALPN = 16  // protocols of a ClientHello kept
	maxSNI  = 255 // bytes of a host name kept
)

// hrrRandom is the random of a HelloRetryRequest: SHA-256("HelloRetryRequest")
// (RFC 8446 section 4.1.3).
var hrrRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// errShort reports a complete hello whose fields run past its end.
var errShort = errors.New("fields run past the end of the message")

// clientHello is what a ClientHello tells.
type clientHello struct {
	legacyVersion uint16
	maxVersion    uint16 // highest of supported_versions (GREASE ignored), else legacyVersion
	suites        int
	sni           string
	alpn          []string
}

// serverHello is what a ServerHello tells.
type serverHello struct {
	legacyVersion uint16
	version       uint16 // supported_versions, else legacyVersion
	suite         uint16
	hasSuite      bool
	alpn          string
	retry         bool // a HelloRetryRequest
}

// reader reads the fields of a handshake message. When the message is a prefix of
// the real one (partial), vectors that run past the end are cut to what is there;
// otherwise they are an error. After an error or the end of a prefix every read
// fails.
type reader struct {
	b       []byte
	partial bool
	err     error
	done    bool // a read failed
}

func (r *reader) fail(err error) {
	if !r.done {
		r.done = true
		if !r.partial {
			r.err = err
		}
	}
}

// take returns the next n bytes. A partial reader returns what is left when fewer
// remain (and fails afterwards).
func (r *reader) take(n int) ([]byte, bool) {
	if r.done {
		return nil, false
	}
	if n > len(r.b) {
		if r.partial && len(r.b) > 0 {
			b := r.b
			r.b = nil
			r.done = true
			return b, true
		}
		r.fail(errShort)
		return nil, false
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b, true
}

// fixed returns exactly n bytes, or fails.
func (r *reader) fixed(n int) ([]byte, bool) {
	if r.done || n > len(r.b) {
		r.fail(errShort)
		return nil, false
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b, true
}

func (r *reader) u8() (int, bool) {
	b, ok := r.fixed(1)
	if !ok {
		return 0, false
	}
	return int(b[0]), true
}

func (r *reader) u16() (int, bool) {
	b, ok := r.fixed(2)
	if !ok {
		return 0, false
	}
	return be16(b), true
}

// vec8 and vec16 read a vector with a 1- or 2-byte length.
func (r *reader) vec8() ([]byte, bool) {
	n, ok := r.u8()
	if !ok {
		return nil, false
	}
	return r.take(n)
}

func (r *reader) vec16() ([]byte, bool) {
	n, ok := r.u16()
	if !ok {
		return nil, false
	}
	return r.take(n)
}

func (r *reader) empty() bool { return len(r.b) == 0 }

// extensions calls fn for each extension of a block. In a partial block a cut
// extension ends the walk.
func extensions(b []byte, partial bool, fn func(typ int, data []byte) error) error {
	r := reader{b: b, partial: partial}
	for !r.empty() {
		typ, ok := r.u16()
		if !ok {
			break
		}
		n, ok := r.u16()
		if !ok {
			break
		}
		data, ok := r.fixed(n)
		if !ok {
			break
		}
		if err := fn(typ, data); err != nil {
			return err
		}
	}
	return r.err
}

// parseClientHello reads a ClientHello body. partial says body is a prefix of the
// message: fields are read as far as they go and no error is reported for the cut.
func parseClientHello(body []byte, partial bool) (clientHello, error) {
	var h clientHello
	r := reader{b: body, partial: partial}
	v, ok := r.u16()
	if !ok {
		return h, r.err
	}
	h.legacyVersion = uint16(v)
	h.maxVersion = h.legacyVersion
	r.fixed(32) // random
	r.vec8()    // legacy_session_id
	suites, ok := r.vec16()
	h.suites = len(suites) / 2
	if ok && !partial && len(suites)%2 != 0 {
		return h, errors.New("odd cipher_suites length")
	}
	r.vec8() // legacy_compression_methods
	if r.done || r.empty() {
		return h, r.err // SSL 3.0 and early TLS hellos may have no extensions
	}
	exts, ok := r.vec16()
	if !ok {
		return h, r.err
	}
	err := extensions(exts, partial, func(typ int, data []byte) error {
		switch typ {
		case extServerName:
			h.sni = serverName(data)
		case extALPN:
			h.alpn = protocols(data, maxALPN)
		case extSupportedVersions:
			h.maxVersion = maxSupported(data, h.legacyVersion)
		}
		return nil
	})
	return h, err
}

// serverName returns the first host_name of a server_name extension (RFC 6066
// section 3), at most maxSNI bytes.
func serverName(data []byte) string {
	r := reader{b: data}
	list, _ := r.vec16()
	l := reader{b: list}
	for !l.empty() {
		typ, ok := l.u8()
		if !ok {
			return ""
		}
		name, ok := l.vec16()
		if !ok {
			return ""
		}
		if typ == 0 {
			return string(name[:min(len(name), maxSNI)])
		}
	}
	return ""
}

// protocols returns the names of an ALPN extension (RFC 7301 section 3.1), at most
// limit of them.
func protocols(data []byte, limit int) []string {
	r := reader{b: data}
	list, _ := r.vec16()
	l := reader{b: list}
	var out []string
	for !l.empty() && len(out) < limit {
		p, ok := l.vec8()
		if !ok {
			break
		}
		out = append(out, string(p))
	}
	return out
}

// maxSupported returns the highest version of a ClientHello's supported_versions
// extension (GREASE and unknown values ignored), or legacy when there is none.
func maxSupported(data []byte, legacy uint16) uint16 {
	r := reader{b: data}
	list, _ := r.vec8()
	best, rank := legacy, -1
	for i := 0; i+1 < len(list); i += 2 {
		v := uint16(be16(list[i:]))
		if isGREASE(v) {
			continue
		}
		if k := versionRank(v); k > rank {
			best, rank = v, k
		}
	}
	return best
}

// parseServerHello reads a ServerHello body (partial as in parseClientHello).
func parseServerHello(body []byte, partial bool) (serverHello, error) {
	var h serverHello
	r := reader{b: body, partial: partial}
	v, ok := r.u16()
	if !ok {
		return h, r.err
	}
	h.legacyVersion = uint16(v)
	h.version = h.legacyVersion
	if random, ok := r.fixed(32); ok {
		h.retry = [32]byte(random) == hrrRandom
	}
	r.vec8() // legacy_session_id_echo
	if s, ok := r.u16(); ok {
		h.suite, h.hasSuite = uint16(s), true
	}
	r.u8() // legacy_compression_method
	if r.done || r.empty() {
		return h, r.err
	}
	exts, ok := r.vec16()
	if !ok {
		return h, r.err
	}
	err := extensions(exts, partial, func(typ int, data []byte) error {
		switch typ {
		case extSupportedVersions:
			if len(data) != 2 {
				return errors.New("supported_versions of a ServerHello is not one version")
			}
			h.version = uint16(be16(data))
		case extALPN:
			if p := protocols(data, 1); len(p) > 0 {
				h.alpn = p[0]
			}
		}
		return nil
	})
	return h, err
}
