package redis

import (
	"strings"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// maxPending bounds the commands waiting for their replies on one connection.
const maxPending = 512

// pendingCmd is a command waiting for its reply.
type pendingCmd struct {
	command
	size  int64
	t     time.Time
	iface int
	// noReply: CLIENT REPLY OFF/SKIP said the server will not answer it.
	noReply bool
	// gap marks the place of commands lost in a capture gap of the client stream.
	gap bool
	// errType is set for a command cut short by the end of the stream.
	errType, errMsg string

	// Filled while the replies of a multi-reply command (SUBSCRIBE a b) arrive.
	got       int
	reply     string
	replyErr  bool
	replySize int64
	replyT    time.Time
}

// parser pairs the commands of one connection with their replies.
type parser struct {
	emit dissect.Emit

	roleKnown bool
	client    dissect.Side
	dec       [2]decoder // indexed by Side

	queue []pendingCmd // FIFO: queue[0] is the oldest; a window of qbuf
	qbuf  []pendingCmd // backing array of queue, reused between bursts
	// orphans counts replies still to come for commands dropped from a full queue;
	// they are consumed without an entry so that pairing stays aligned.
	orphans int

	replyOff   bool // CLIENT REPLY OFF in effect
	skipNext   bool // CLIENT REPLY SKIP: the next command gets no reply
	subscribed bool // a RESP2 (un)subscribe confirmation was seen

	scratch []byte // reused to build command lines
}

func newParser(emit dissect.Emit) *parser {
	p := &parser{emit: emit}
	for i := range p.dec {
		side := dissect.Side(i)
		p.dec[i].onValue = func(v *value) { p.value(side, v) }
		p.dec[i].onError = func(string) { p.decodeError(side) }
	}
	return p
}

// Feed implements dissect.StreamParser.
func (p *parser) Feed(c dissect.Chunk) {
	if !p.roleKnown {
		if len(c.Data) == 0 {
			return
		}
		p.setClient(c.Side, c.Data)
	}
	d := &p.dec[c.Side]
	if c.Skipped != 0 {
		p.gap(c.Side)
		d.gap()
	}
	d.feed(&c, 0)
}

// setClient decides which side is the client from the first bytes seen: a
// multibulk whose first element is a known command name or that looks like one, or
// an inline command, comes from the client; a reply type byte from the server.
func (p *parser) setClient(side dissect.Side, data []byte) {
	p.roleKnown = true
	p.client = side
	switch data[0] {
	case '*':
		// A multibulk starting with a known command name is a command. An array
		// whose first element is not a bulk string is a reply. Otherwise (a server's
		// array of strings looks like a command) SideA, which sent the SYN when the
		// handshake was captured, is taken for the client.
		switch {
		case probeMultibulk(data, true) != dissect.NoMatch:
		case arrayOfNonBulk(data):
			p.client = side.Other()
		default:
			p.client = dissect.SideA
		}
	case '+', '-', ':', '$', '_', ',', '#', '!', '=', '(', '%', '~', '>', '|':
		p.client = side.Other()
	}
	p.dec[p.client].client = true
	p.dec[p.client.Other()].client = false
}

// arrayOfNonBulk reports whether data starts with "*<n>\r\n" (n ≥ 1) followed by an
// element that is not a bulk string.
func arrayOfNonBulk(data []byte) bool {
	n, i, v := probeNumber(data, 1, 10)
	return v == dissect.Match && n >= 1 && i < len(data) && data[i] != '$'
}

// value handles a complete top-level value of side.
func (p *parser) value(side dissect.Side, v *value) {
	if side == p.client {
		p.command(v)
	} else {
		p.reply(v)
	}
}

func (p *parser) command(v *value) {
	cmd, ok := buildCommand(v, &p.scratch)
	if !ok {
		return
	}
	pc := pendingCmd{command: cmd, size: v.size, t: v.t, iface: v.iface}
	p.applyClientReply(&pc, v)
	p.enqueue(pc)
}

// applyClientReply follows CLIENT REPLY ON|OFF|SKIP, after which Redis sends no
// replies (OFF), or none to the next command (SKIP).
func (p *parser) applyClientReply(pc *pendingCmd, v *value) {
	mode := ""
	if pc.typ == "CLIENT" && len(v.args) >= 3 && strings.EqualFold(argString(v, 1), "REPLY") {
		mode = strings.ToUpper(argString(v, 2))
	}
	switch {
	case mode == "ON":
		p.replyOff, p.skipNext = false, false
	case p.replyOff:
		pc.noReply = true
	case p.skipNext:
		pc.noReply = true
		p.skipNext = false
	}
	switch mode {
	case "OFF":
		pc.noReply, p.replyOff = true, true
	case "SKIP":
		pc.noReply, p.skipNext = true, true
	}
}

func argString(v *value, i int) string {
	a := v.args[i]
	return string(v.arena[a.off : a.off+a.n])
}

func (p *parser) enqueue(pc pendingCmd) {
	if len(p.queue) >= maxPending {
		p.evictOldest()
	}
	p.push(pc)
	p.drainNoReply()
}

// evictOldest makes room in a full queue: the oldest command is emitted without its
// reply, which will be skipped when it comes.
func (p *parser) evictOldest() {
	old := &p.queue[0]
	if !old.noReply && !old.gap {
		p.orphans++
		p.emitCommand(old, ErrorTypeNoResponse, "more than 512 commands pending: reply not tracked")
	}
	p.pop()
}

func (p *parser) push(pc pendingCmd) {
	if len(p.queue) == cap(p.queue) && len(p.queue) < cap(p.qbuf) {
		// No room after the window but room before it: slide it to the front.
		n := copy(p.qbuf, p.queue)
		clear(p.qbuf[n:cap(p.qbuf)])
		p.queue = p.qbuf[:n]
	}
	p.queue = append(p.queue, pc)
	if cap(p.queue) > cap(p.qbuf) {
		p.qbuf = p.queue[:cap(p.queue)] // append moved the queue to a larger array
	}
}

func (p *parser) pop() {
	p.queue[0] = pendingCmd{}
	p.queue = p.queue[1:]
	if len(p.queue) == 0 {
		if cap(p.qbuf) > 64 {
			p.qbuf = nil // do not keep a burst's array on an idle connection
		}
		p.queue = p.qbuf[:0]
	}
}

// drainNoReply emits the commands at the head of the queue that get no reply.
func (p *parser) drainNoReply() {
	for len(p.queue) > 0 && p.queue[0].noReply {
		p.emitCommand(&p.queue[0], p.queue[0].errType, p.queue[0].errMsg)
		p.pop()
	}
}

// pubsubKinds are the first elements of pub/sub messages and confirmations.
var pubsubKinds = map[string]bool{
	"message": true, "pmessage": true, "smessage": true,
	"subscribe": true, "psubscribe": true, "ssubscribe": true,
	"unsubscribe": true, "punsubscribe": true, "sunsubscribe": true,
}

func (p *parser) reply(v *value) {
	if p.orphans > 0 {
		p.orphans--
		return
	}
	// A push, or in RESP2 pub/sub mode an array that looks like one, answers no
	// command unless it confirms the (un)subscribe at the head of the queue.
	head := p.head()
	kind := ""
	if (v.typ == '>' || v.typ == '*' && (p.subscribed || head != nil && head.sub != "")) &&
		len(v.args) > 0 && v.args[0].typ == '$' {
		kind = strings.ToLower(argString(v, 0))
	}
	push := v.typ == '>' || (v.typ == '*' && p.subscribed && pubsubKinds[kind])
	if head != nil && head.sub != "" && head.got > 0 && kind != head.sub {
		// The confirmations of a multi-channel (un)subscribe ended early.
		p.finishCommand()
		head = p.head()
	}
	if push && (head == nil || head.sub == "" || kind != head.sub) {
		p.emitReplyOnly(v, "", "")
		return
	}
	if head == nil {
		p.emitReplyOnly(v, ErrorTypeNoRequest, "reply without command")
		return
	}
	if head.gap {
		if len(p.queue) == 1 {
			// Replies to commands lost in the gap come before any command sent after it.
			p.emitReplyOnly(v, ErrorTypeNoRequest, "reply to a command lost in a capture gap")
			return
		}
		p.pop()
		if head = p.head(); head == nil {
			p.emitReplyOnly(v, ErrorTypeNoRequest, "reply without command")
			return
		}
	}
	r, isErr := renderReply(v)
	if head.got == 0 {
		head.reply, head.replyErr, head.replyT = r, isErr, v.t
	}
	head.got++
	head.replySize += v.size
	if head.sub != "" && !isErr {
		if v.typ == '*' {
			p.subscribed = true
		}
		if head.got < head.replies {
			return // more confirmations to come
		}
	}
	p.finishCommand()
}

// head returns the oldest command that expects a reply, emitting those before it
// that do not.
func (p *parser) head() *pendingCmd {
	p.drainNoReply()
	if len(p.queue) == 0 {
		return nil
	}
	return &p.queue[0]
}

// finishCommand emits the head command with the replies it got.
func (p *parser) finishCommand() {
	pc := &p.queue[0]
	r := &dissect.Redis{
		Type: pc.typ, Command: pc.line, Key: pc.key,
		Reply: pc.reply, ReplyIsError: pc.replyErr,
		HasRequest: true, HasResponse: true,
		RequestSize: int(pc.size), ResponseSize: int(pc.replySize),
	}
	e := &dissect.Entry{
		Protocol: dissect.ProtoRedis, Timestamp: pc.t, Interface: pc.iface, Redis: r,
		ErrorType: pc.errType, ErrorMessage: pc.errMsg,
	}
	if e.Elapsed = pc.replyT.Sub(pc.t); e.Elapsed < 0 {
		e.Elapsed = 0
	}
	p.pop()
	p.emit(e, p.client)
}

// emitCommand emits a command without a reply.
func (p *parser) emitCommand(pc *pendingCmd, errType, errMsg string) {
	r := &dissect.Redis{
		Type: pc.typ, Command: pc.line, Key: pc.key,
		HasRequest: true, RequestSize: int(pc.size),
	}
	e := &dissect.Entry{
		Protocol: dissect.ProtoRedis, Timestamp: pc.t, Interface: pc.iface, Redis: r,
		ErrorType: errType, ErrorMessage: errMsg,
	}
	p.emit(e, p.client)
}

// emitReplyOnly emits a reply that answers no command seen: a push message, or a
// reply whose command was not captured.
func (p *parser) emitReplyOnly(v *value, errType, errMsg string) {
	reply, isErr := renderReply(v)
	r := &dissect.Redis{
		Reply: reply, ReplyIsError: isErr, HasResponse: true, ResponseSize: int(v.size),
	}
	e := &dissect.Entry{
		Protocol: dissect.ProtoRedis, Timestamp: v.t, Interface: v.iface, Redis: r,
		ErrorType: errType, ErrorMessage: errMsg,
	}
	p.emit(e, p.client)
}

// gap handles lost bytes on side (before the decoder forgets its partial value).
func (p *parser) gap(side dissect.Side) {
	if side == p.client {
		p.clientLost()
		return
	}
	p.serverLost("reply lost in a capture gap")
}

// decodeError handles a protocol error on side: the decoder resynchronises.
func (p *parser) decodeError(side dissect.Side) {
	if side == p.client {
		p.clientLost()
		return
	}
	p.serverLost("reply not decodable")
}

// clientLost marks the place of an unknown number of lost commands.
func (p *parser) clientLost() {
	if n := len(p.queue); n > 0 && p.queue[n-1].gap {
		return
	}
	if len(p.queue) >= maxPending {
		p.evictOldest()
	}
	p.push(pendingCmd{gap: true})
}

// serverLost gives up pairing the commands sent so far: their replies may be lost.
func (p *parser) serverLost(why string) {
	for len(p.queue) > 0 {
		pc := &p.queue[0]
		if !pc.gap {
			errType := ErrorTypeNoResponse
			if pc.noReply {
				errType, why = pc.errType, pc.errMsg
			}
			p.emitCommand(pc, errType, why)
		}
		p.pop()
	}
	p.orphans = 0
}

// Close implements dissect.StreamParser: a command cut short is emitted as truncated
// (with the reply in progress, if any), then every command still waiting.
func (p *parser) Close(time.Time) {
	if !p.roleKnown {
		return
	}
	cd := &p.dec[p.client]
	if cd.v.started && cd.v.typ == '*' && len(cd.v.args) > 0 && int64(cd.v.args[0].n) == cd.v.args[0].full &&
		!(len(cd.v.args) == 1 && cd.state == stBulk) {
		if cmd, ok := buildCommand(&cd.v, &p.scratch); ok {
			p.enqueue(pendingCmd{command: cmd, size: cd.v.size, t: cd.v.t, iface: cd.v.iface,
				errType: ErrorTypeTruncated, errMsg: "stream ended inside the command"})
		}
	}
	sd := &p.dec[p.client.Other()]
	if sd.v.started && sd.v.typ == '>' && !sd.resync {
		p.emitReplyOnly(&sd.v, ErrorTypeTruncated, "stream ended inside the push message")
	} else if sd.v.started && sd.v.typ != 0 && !sd.resync {
		if head := p.head(); head != nil && !head.gap && p.orphans == 0 {
			r, isErr := renderReply(&sd.v)
			if head.got == 0 {
				head.reply, head.replyErr, head.replyT = r, isErr, sd.v.t
			}
			head.replySize += sd.v.size
			head.errType, head.errMsg = ErrorTypeTruncated, "stream ended inside the reply"
			p.finishCommand()
		}
	}
	for len(p.queue) > 0 {
		pc := &p.queue[0]
		switch {
		case pc.gap:
		case pc.got > 0:
			p.finishCommand()
			continue
		case pc.noReply || pc.errType != "":
			p.emitCommand(pc, pc.errType, pc.errMsg)
		default:
			p.emitCommand(pc, ErrorTypeNoResponse, "command without reply")
		}
		p.pop()
	}
	p.dec = [2]decoder{}
}
