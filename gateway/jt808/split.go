package jt808

import "errors"

// ErrSplit is returned for a packet that cannot join a split message: too
// many packets, too many messages pending, or a packet out of its message.
var ErrSplit = errors.New("jt808: split message refused")

// Reassembler joins the packets of split messages (header bit 13) of one
// connection. Its memory is bounded by MaxPending messages of MaxPackets
// packets of at most 1023 body bytes each. Not safe for concurrent use: it
// belongs to the connection's goroutine.
type Reassembler struct {
	MaxPending int // messages being assembled at once; 0 means 2
	MaxPackets int // packets of one message; 0 means 16
	pending    []*partial
}

type partial struct {
	id, first uint16 // message id, serial of packet 1
	parts     [][]byte
	have      int
}

// Add adds one packet. It returns the whole body (and done) when the packet
// completes its message.
func (r *Reassembler) Add(h Header, body []byte) (whole []byte, done bool, err error) {
	maxPending, maxPackets := r.MaxPending, r.MaxPackets
	if maxPending <= 0 {
		maxPending = 2
	}
	if maxPackets <= 0 {
		maxPackets = 16
	}
	if int(h.Total) > maxPackets || h.Index == 0 || h.Index > h.Total {
		return nil, false, ErrSplit
	}
	first := h.Serial - (h.Index - 1) // serials of one message are consecutive
	var p *partial
	for _, q := range r.pending {
		if q.id == h.ID && q.first == first {
			p = q
			break
		}
	}
	if p == nil {
		if len(r.pending) >= maxPending {
			// Drop the oldest: a terminal that lost a packet retransmits.
			r.pending = r.pending[1:]
		}
		p = &partial{id: h.ID, first: first, parts: make([][]byte, h.Total)}
		r.pending = append(r.pending, p)
	}
	if len(p.parts) != int(h.Total) {
		r.remove(p)
		return nil, false, ErrSplit
	}
	if p.parts[h.Index-1] == nil {
		p.have++
	}
	p.parts[h.Index-1] = append([]byte{}, body...)
	if p.have < len(p.parts) {
		return nil, false, nil
	}
	r.remove(p)
	n := 0
	for _, b := range p.parts {
		n += len(b)
	}
	whole = make([]byte, 0, n)
	for _, b := range p.parts {
		whole = append(whole, b...)
	}
	return whole, true, nil
}

// Pending is the number of messages being assembled.
func (r *Reassembler) Pending() int { return len(r.pending) }

func (r *Reassembler) remove(p *partial) {
	for i, q := range r.pending {
		if q == p {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			return
		}
	}
}
