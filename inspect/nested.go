package inspect

// nestedSink walks an enclosed message that arrives transfer-encoded
// (message/rfc822 in base64, an attached .eml file) with a scanner of its
// own, bounded by what is left of the parent's depth and part budget.
type nestedSink struct {
	parent *Scanner
	e      *entity
	child  *Scanner
}

// nestedSink returns a sink for the enclosed message in e, or nil when the
// parent's bounds leave no room (the result is then partial).
func (s *Scanner) nestedSink(e *entity) byteSink {
	depth := s.opts.MaxDepth - e.depth - 1
	parts := s.opts.MaxParts - s.parts
	if depth <= 0 || parts <= 0 {
		s.partial = true
		return nil
	}
	return &nestedSink{parent: s, e: e, child: NewScanner(Options{MaxDepth: depth, MaxParts: parts})}
}

func (n *nestedSink) write(p []byte) bool {
	n.child.Write(p)
	return true
}

// end takes the enclosed message's findings into the parent, one level
// below e and with scope nested.
func (n *nestedSink) end() {
	n.child.close()
	s := n.parent
	s.parts += n.child.parts + 1
	s.partial = s.partial || n.child.partial
	for _, f := range n.child.findings {
		f.Depth += n.e.depth + 1
		f.Part = n.e.part
		f.Scope = ScopeNested
		f.Why = "enclosed message: " + f.Why
		dup := false
		for _, g := range s.findings {
			dup = dup || (g.Class == f.Class && g.Part == f.Part)
		}
		if !dup && len(s.findings) < 64 {
			s.findings = append(s.findings, f)
		}
	}
}
