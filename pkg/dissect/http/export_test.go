package http

// Stalls exposes the parser's stall counter to tests: it must stay zero.
func Stalls(p *Parser) uint64 { return p.stalls }
