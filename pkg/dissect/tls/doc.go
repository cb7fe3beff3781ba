// Package tls owns the TLS handshake dissector of kubectl-shark: recognising a TCP
// stream as TLS from its first record (never from its ports), and turning the
// handshake that travels in clear into one entry per connection (dissect.TLS). No keys
// are involved: what is visible without them is the ClientHello and the ServerHello
// (and, before a ServerHello, plaintext alerts); everything after them is skipped.
//
// # Recognition
//
// A stream is TLS when a side starts with a handshake record (content type 22, record
// version 0x0301 to 0x0304, a length of at most 2^14) holding the start of a
// ClientHello or a ServerHello (legacy version 0x0300 to 0x0304). SSL 2.0 and
// SSLv2-compatible hellos are not recognised, nor TLS after a plaintext prologue
// (STARTTLS, PostgreSQL's SSLRequest), nor connections captured after their handshake.
//
// # Parsing
//
// Each side is read as a sequence of records (a record may be split anywhere across
// segments); handshake records are read as a sequence of handshake messages (several
// messages per record, and a message spread over several records, are both handled).
// Only the ClientHello and the ServerHello are kept (at most 64 KiB of each); other
// messages, application data and ChangeCipherSpec records are skipped without
// copying. From the ClientHello:
// the legacy version, supported_versions (GREASE ignored), server_name, ALPN, and
// the number of cipher suites; from the ServerHello: the selected version (its
// supported_versions for TLS 1.3), cipher suite and ALPN protocol. A TLS 1.3
// HelloRetryRequest (a ServerHello with the special random) is noted and the parser
// waits for the real ServerHello.
//
// # Entries
//
// One entry per handshake, with the ClientHello as the request and the ServerHello
// as the response; the client is the side that sent the ClientHello. The entry is
// emitted as soon as the ServerHello is complete, so connections show up while they
// are still open; after that the parser ignores the connection (Feed returns at
// once). Without a ServerHello it is emitted when the server sends a fatal plaintext
// alert instead, when the server's side is lost (a capture gap, bytes that are not
// records), or else at the end of the stream.
// Entry.Timestamp is the capture time of the first byte of the record that started
// the ClientHello (of the ServerHello without one), Entry.Elapsed the time from there
// to the first byte of the record that started the ServerHello. RequestSize and
// ResponseSize count whole TLS records, headers included: the client's records sent
// before the entry was emitted, the server's records up to the one that completed the
// ServerHello (see dissect.TLS). The volume of the whole connection is in its L4
// record (conn, conn_l7_detected contains "TLS").
//
// # Errors
//
// Error types set on entries (Entry.ErrorType; details in ErrorMessage; the first
// problem found is the type and the messages are joined):
//
//   - "no_response" (dissect.ErrorNoResponse): a ClientHello without a ServerHello:
//     the stream ended, or the server's side was lost in a capture gap or was not TLS.
//   - "no_request" (dissect.ErrorNoRequest): a ServerHello without a ClientHello, as
//     when the capture starts in the middle of the handshake.
//   - "truncated" (dissect.ErrorTruncated): a hello cut by a capture gap or by the end
//     of the stream; its fields hold what the bytes seen contain. A hello whose
//     4-byte handshake header was not complete is not reported.
//   - "malformed" (dissect.ErrorMalformed): a hello whose fields do not fit in it, one
//     longer than 64 KiB, or a side that stops being TLS records before its hello
//     was complete.
//   - "alert" (ErrorAlert): the server answered the ClientHello with a fatal plaintext
//     alert (Alert holds its description, e.g. "handshake_failure").
//
// Capture gaps: bytes lost inside a record the parser skips anyway (application
// data) do not matter; elsewhere the side's record framing is lost and the parser
// stops reading that side.
//
// # Resources
//
// Per connection the parser holds at most one hello of each side (64 KiB each) until
// its entry is emitted, and nothing afterwards. It never panics on any input (every
// index is bounds-checked) and does not use recover().
//
// Dissector is stateless and safe for concurrent use; its parsers are not. Chunk data
// is copied into the parser only for the hellos; the parser keeps no reference to a
// chunk after Feed returns.
package tls
