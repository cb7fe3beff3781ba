// Package http owns the HTTP/1.x dissector of kubectl-shark: recognising a TCP stream
// as HTTP/1.0 or HTTP/1.1 from its first bytes (never from its ports), and turning the
// reassembled byte streams of both directions into request/response entries
// (dissect.HTTP).
//
// # Framing
//
// The parser follows RFC 9112 message framing: keep-alive connections with many
// exchanges, pipelined requests, bodies delimited by Content-Length, by the chunked
// transfer coding (trailers included) or by the end of the connection (a response
// without a length). Responses to HEAD, 1xx, 204 and 304 responses have no body.
// Interim responses (100 Continue, 103 Early Hints) are skipped: an entry holds the
// final response. After 101 Switching Protocols, or a 2xx answer to CONNECT, the
// connection is no longer parsed as HTTP.
//
// # Pairing
//
// Whichever side sends a request is the client of that exchange. A response answers
// the oldest unanswered request of the other side that began before it (first in,
// first out, as pipelining requires). A response with no such request, as when the
// capture starts mid-connection, is emitted with HasRequest false; requests never
// answered are emitted when the stream closes, with HasResponse false (see Errors). When a side
// loses its place (a capture gap, or bytes that are not HTTP where a message should
// start), it resynchronises at the next line, or the next turn of the conversation,
// that starts a request or status line, and its next response answers the newest
// request that began before it; older unanswered requests are then emitted without a
// response. This is right for the usual request-response traffic
// and keeps one lost segment from shifting every later pair.
//
// # Fields
//
// Entry.Timestamp is the capture time of the request's first byte (the response's
// when there is no request), Entry.Elapsed the time from there to the final
// response's first byte (zero without both, or if timestamps run backwards).
// Entry.Interface is the capture interface of the request's first chunk. Version is
// the request's ("HTTP/1.1"), the response's without a request. Header names are lower
// case, repeated fields are joined with ", ", and trailer fields are added to the
// headers. HeadersSize counts the start line, the fields and the blank line (for a
// cut message, the bytes seen); BodySize counts body bytes after de-chunking,
// including bytes lost in a gap of known size. Query holds the first value of each
// name (url.ParseQuery); Query and Cookies are nil when empty.
//
// # Errors
//
// Error types set on entries (Entry.ErrorType; details in ErrorMessage). When an
// exchange has several problems the first one found is the type and the messages are
// joined.
//
//   - "no_response" (dissect.ErrorNoResponse): a request whose response was not seen:
//     the stream ended, the response was lost in a capture gap, or more than
//     Limits.MaxPending requests were waiting.
//   - "no_request" (dissect.ErrorNoRequest): a response whose request was not seen,
//     as when the capture starts mid-connection.
//   - "truncated" (dissect.ErrorTruncated): a message was cut by a capture gap or by
//     the end of the stream; its fields hold what was seen. A message whose start
//     line was not complete is not reported.
//   - "malformed" (dissect.ErrorMalformed): the framing is invalid (a bad
//     Content-Length, a request Transfer-Encoding not ending with chunked, a bad chunk
//     size line or chunk terminator); the message ends there and the parser
//     resynchronises.
//   - "gap" (ErrorGap): bytes inside a body of known length were not captured, but the
//     framing was kept (BodySize counts them).
//   - "too_large" (ErrorTooLarge): the header or trailer block exceeded
//     Limits.MaxHeaderBytes.
//
// # Resources
//
// Memory per connection is bounded: bodies are counted while they stream past and
// never buffered, a start line plus header block (or a trailer block) may not exceed
// Limits.MaxHeaderBytes (64 KiB), and at most Limits.MaxPending (1024) requests wait
// for a response; beyond that the oldest unanswered one is emitted without it. The
// parser never panics on any input and does not use recover().
package http
