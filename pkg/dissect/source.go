package dissect

// SetCaptureSource changes the CaptureSource copied into entries emitted from now
// on (a sniffer whose backend changed on restart).
func (p *Pipeline) SetCaptureSource(source string) { p.cfg.CaptureSource = source }
