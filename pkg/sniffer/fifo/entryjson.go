package fifo

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/kubectl-shark/kubectl-shark/internal/jsonstr"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// The .entries sidecar holds one dissect.Entry per line as encoding/json marshals it
// (ScanEntries reads it back with json.Unmarshal). appendEntryJSON writes the same
// bytes without reflection: the writer does it for every entry the sniffer dissects,
// and json.Marshal was the larger part of that cost.
//
// It encodes the fields it knows by hand, in declaration order, and any other field
// of Entry through json.Marshal, so a field added to Entry is stored as before; a
// nested type whose fields differ from what it knows is marshalled whole. Should
// Entry ever use struct tags, embedding or custom marshalling, every entry goes
// through json.Marshal (checked once, at start).

// Fields of the payload types, in declaration order, as this encoder knows them.
var (
	knownHTTP        = []string{"Method", "URL", "Path", "Query", "Version", "StatusCode", "StatusText", "HasRequest", "HasResponse", "Request", "Response"}
	knownHTTPMessage = []string{"Headers", "Cookies", "HeadersSize", "BodySize"}
	knownDNS         = []string{"TransactionID", "Questions", "QuestionTypes", "Answers", "RCode", "RCodeName", "HasRequest", "HasResponse", "RequestLength", "ResponseLength"}
	knownRedis       = []string{"Type", "Command", "Key", "Reply", "ReplyIsError", "HasRequest", "HasResponse", "RequestSize", "ResponseSize"}
	knownConn        = []string{"State", "SrcPackets", "SrcBytes", "DstPackets", "DstBytes", "First", "Last", "L7Detected", "MissingBytes", "SeenHandshake"}
	knownEndpoint    = []string{"IP", "Port"}
)

// entryField is one exported field of Entry: known fields by name, others by index.
type entryField struct {
	name  string
	index int
	known bool
}

var entryCodec = newEntryCodec()

type entryCodecT struct {
	fields []entryField // nil: marshal whole entries with encoding/json
	// Nested types encoded by hand (false: through encoding/json).
	http, httpMessage, dns, redis, conn, endpoint bool
}

func newEntryCodec() entryCodecT {
	var c entryCodecT
	c.http = sameFields(reflect.TypeFor[dissect.HTTP](), knownHTTP)
	c.httpMessage = sameFields(reflect.TypeFor[dissect.HTTPMessage](), knownHTTPMessage)
	c.dns = sameFields(reflect.TypeFor[dissect.DNS](), knownDNS)
	c.redis = sameFields(reflect.TypeFor[dissect.Redis](), knownRedis)
	c.conn = sameFields(reflect.TypeFor[dissect.Conn](), knownConn)
	c.endpoint = sameFields(reflect.TypeFor[dissect.Endpoint](), knownEndpoint)

	known := map[string]reflect.Type{
		"ID": reflect.TypeFor[uint64](), "Index": reflect.TypeFor[int](), "Stream": reflect.TypeFor[dissect.StreamID](),
		"Protocol": reflect.TypeFor[string](), "Transport": reflect.TypeFor[dissect.Transport](),
		"Src": reflect.TypeFor[dissect.Endpoint](), "Dst": reflect.TypeFor[dissect.Endpoint](),
		"Timestamp": reflect.TypeFor[time.Time](), "Elapsed": reflect.TypeFor[time.Duration](),
		"Interface": reflect.TypeFor[int](), "CaptureSource": reflect.TypeFor[string](), "LocalIsSrc": reflect.TypeFor[bool](),
		"HTTP": reflect.TypeFor[*dissect.HTTP](), "DNS": reflect.TypeFor[*dissect.DNS](), "Redis": reflect.TypeFor[*dissect.Redis](),
		"Conn": reflect.TypeFor[*dissect.Conn](), "ErrorType": reflect.TypeFor[string](), "ErrorMessage": reflect.TypeFor[string](),
	}
	t := reflect.TypeFor[dissect.Entry]()
	if customJSON(t) {
		return c
	}
	var fields []entryField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Tag.Get("json") != "" || f.Anonymous {
			return c
		}
		want, ok := known[f.Name]
		fields = append(fields, entryField{name: f.Name, index: i, known: ok && want == f.Type})
	}
	c.fields = fields
	return c
}

// sameFields reports whether struct type t has exactly the exported fields names, in
// order, without tags, embedding or custom marshalling.
func sameFields(t reflect.Type, names []string) bool {
	if customJSON(t) || customJSON(reflect.PointerTo(t)) {
		return false
	}
	var got []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Tag.Get("json") != "" || f.Anonymous {
			return false
		}
		got = append(got, f.Name)
	}
	return slices.Equal(got, names)
}

func customJSON(t reflect.Type) bool {
	return t.Implements(reflect.TypeFor[json.Marshaler]()) || t.Implements(reflect.TypeFor[encoding.TextMarshaler]())
}

// appendEntryJSON appends e as json.Marshal encodes it.
func appendEntryJSON(b []byte, e *dissect.Entry) ([]byte, error) {
	c := &entryCodec
	if c.fields == nil {
		return appendMarshal(b, e)
	}
	var err error
	b = append(b, '{')
	for i, f := range c.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		if !f.known {
			v := reflect.ValueOf(e).Elem().Field(f.index)
			switch v.Kind() {
			case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
				if v.IsNil() {
					b = append(b, "null"...)
					continue
				}
			}
			if b, err = appendMarshal(b, v.Interface()); err != nil {
				return b, err
			}
			continue
		}
		switch f.name {
		case "ID":
			b = strconv.AppendUint(b, e.ID, 10)
		case "Index":
			b = strconv.AppendInt(b, int64(e.Index), 10)
		case "Stream":
			b = strconv.AppendUint(b, uint64(e.Stream), 10)
		case "Protocol":
			b = appendString(b, e.Protocol)
		case "Transport":
			b = strconv.AppendUint(b, uint64(e.Transport), 10)
		case "Src":
			b, err = c.appendEndpoint(b, e.Src)
		case "Dst":
			b, err = c.appendEndpoint(b, e.Dst)
		case "Timestamp":
			b, err = appendTime(b, e.Timestamp)
		case "Elapsed":
			b = strconv.AppendInt(b, int64(e.Elapsed), 10)
		case "Interface":
			b = strconv.AppendInt(b, int64(e.Interface), 10)
		case "CaptureSource":
			b = appendString(b, e.CaptureSource)
		case "LocalIsSrc":
			b = strconv.AppendBool(b, e.LocalIsSrc)
		case "HTTP":
			b, err = c.appendHTTP(b, e.HTTP)
		case "DNS":
			b, err = c.appendDNS(b, e.DNS)
		case "Redis":
			b, err = c.appendRedis(b, e.Redis)
		case "Conn":
			b, err = c.appendConn(b, e.Conn)
		case "ErrorType":
			b = appendString(b, e.ErrorType)
		case "ErrorMessage":
			b = appendString(b, e.ErrorMessage)
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

func (c *entryCodecT) appendEndpoint(b []byte, ep dissect.Endpoint) ([]byte, error) {
	if !c.endpoint {
		return appendMarshal(b, ep)
	}
	b = append(b, `{"IP":`...)
	if ep.IP.Zone() != "" {
		b = appendString(b, ep.IP.String())
	} else {
		// As Addr.MarshalText: the zero Addr is "".
		b = append(b, '"')
		b = ep.IP.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `,"Port":`...)
	b = strconv.AppendUint(b, uint64(ep.Port), 10)
	return append(b, '}'), nil
}

func (c *entryCodecT) appendHTTP(b []byte, h *dissect.HTTP) ([]byte, error) {
	if h == nil {
		return append(b, "null"...), nil
	}
	if !c.http || !c.httpMessage {
		return appendMarshal(b, h)
	}
	b = append(b, `{"Method":`...)
	b = appendString(b, h.Method)
	b = append(b, `,"URL":`...)
	b = appendString(b, h.URL)
	b = append(b, `,"Path":`...)
	b = appendString(b, h.Path)
	b = append(b, `,"Query":`...)
	b = appendStringMap(b, h.Query)
	b = append(b, `,"Version":`...)
	b = appendString(b, h.Version)
	b = append(b, `,"StatusCode":`...)
	b = strconv.AppendInt(b, int64(h.StatusCode), 10)
	b = append(b, `,"StatusText":`...)
	b = appendString(b, h.StatusText)
	b = append(b, `,"HasRequest":`...)
	b = strconv.AppendBool(b, h.HasRequest)
	b = append(b, `,"HasResponse":`...)
	b = strconv.AppendBool(b, h.HasResponse)
	b = append(b, `,"Request":`...)
	b = appendHTTPMessage(b, &h.Request)
	b = append(b, `,"Response":`...)
	b = appendHTTPMessage(b, &h.Response)
	return append(b, '}'), nil
}

func appendHTTPMessage(b []byte, m *dissect.HTTPMessage) []byte {
	b = append(b, `{"Headers":`...)
	b = appendStringMap(b, m.Headers)
	b = append(b, `,"Cookies":`...)
	b = appendStringMap(b, m.Cookies)
	b = append(b, `,"HeadersSize":`...)
	b = strconv.AppendInt(b, int64(m.HeadersSize), 10)
	b = append(b, `,"BodySize":`...)
	b = strconv.AppendInt(b, int64(m.BodySize), 10)
	return append(b, '}')
}

func (c *entryCodecT) appendDNS(b []byte, d *dissect.DNS) ([]byte, error) {
	if d == nil {
		return append(b, "null"...), nil
	}
	if !c.dns {
		return appendMarshal(b, d)
	}
	b = append(b, `{"TransactionID":`...)
	b = strconv.AppendUint(b, uint64(d.TransactionID), 10)
	b = append(b, `,"Questions":`...)
	b = appendStrings(b, d.Questions)
	b = append(b, `,"QuestionTypes":`...)
	b = appendStrings(b, d.QuestionTypes)
	b = append(b, `,"Answers":`...)
	b = appendStrings(b, d.Answers)
	b = append(b, `,"RCode":`...)
	b = strconv.AppendInt(b, int64(d.RCode), 10)
	b = append(b, `,"RCodeName":`...)
	b = appendString(b, d.RCodeName)
	b = append(b, `,"HasRequest":`...)
	b = strconv.AppendBool(b, d.HasRequest)
	b = append(b, `,"HasResponse":`...)
	b = strconv.AppendBool(b, d.HasResponse)
	b = append(b, `,"RequestLength":`...)
	b = strconv.AppendInt(b, int64(d.RequestLength), 10)
	b = append(b, `,"ResponseLength":`...)
	b = strconv.AppendInt(b, int64(d.ResponseLength), 10)
	return append(b, '}'), nil
}

func (c *entryCodecT) appendRedis(b []byte, r *dissect.Redis) ([]byte, error) {
	if r == nil {
		return append(b, "null"...), nil
	}
	if !c.redis {
		return appendMarshal(b, r)
	}
	b = append(b, `{"Type":`...)
	b = appendString(b, r.Type)
	b = append(b, `,"Command":`...)
	b = appendString(b, r.Command)
	b = append(b, `,"Key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"Reply":`...)
	b = appendString(b, r.Reply)
	b = append(b, `,"ReplyIsError":`...)
	b = strconv.AppendBool(b, r.ReplyIsError)
	b = append(b, `,"HasRequest":`...)
	b = strconv.AppendBool(b, r.HasRequest)
	b = append(b, `,"HasResponse":`...)
	b = strconv.AppendBool(b, r.HasResponse)
	b = append(b, `,"RequestSize":`...)
	b = strconv.AppendInt(b, int64(r.RequestSize), 10)
	b = append(b, `,"ResponseSize":`...)
	b = strconv.AppendInt(b, int64(r.ResponseSize), 10)
	return append(b, '}'), nil
}

func (c *entryCodecT) appendConn(b []byte, cn *dissect.Conn) ([]byte, error) {
	if cn == nil {
		return append(b, "null"...), nil
	}
	if !c.conn {
		return appendMarshal(b, cn)
	}
	var err error
	b = append(b, `{"State":`...)
	b = appendString(b, string(cn.State))
	b = append(b, `,"SrcPackets":`...)
	b = strconv.AppendUint(b, cn.SrcPackets, 10)
	b = append(b, `,"SrcBytes":`...)
	b = strconv.AppendUint(b, cn.SrcBytes, 10)
	b = append(b, `,"DstPackets":`...)
	b = strconv.AppendUint(b, cn.DstPackets, 10)
	b = append(b, `,"DstBytes":`...)
	b = strconv.AppendUint(b, cn.DstBytes, 10)
	b = append(b, `,"First":`...)
	if b, err = appendTime(b, cn.First); err != nil {
		return b, err
	}
	b = append(b, `,"Last":`...)
	if b, err = appendTime(b, cn.Last); err != nil {
		return b, err
	}
	b = append(b, `,"L7Detected":`...)
	b = appendStrings(b, cn.L7Detected)
	b = append(b, `,"MissingBytes":`...)
	b = strconv.AppendUint(b, cn.MissingBytes, 10)
	b = append(b, `,"SeenHandshake":`...)
	b = strconv.AppendBool(b, cn.SeenHandshake)
	return append(b, '}'), nil
}

// appendTime appends t as time.Time.MarshalJSON does.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, &json.MarshalerError{Type: reflect.TypeFor[time.Time](), Err: err}
	}
	return append(out, '"'), nil
}

func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendStringMap appends m with its keys sorted, as encoding/json does.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendString appends s as json.Marshal does (HTML characters escaped).
func appendString(b []byte, s string) []byte { return jsonstr.Append(b, s, true) }
