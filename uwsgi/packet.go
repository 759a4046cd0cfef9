package uwsgi

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MaxDatasize is the largest vars block a packet can carry: its size
// travels in 16 bits.
const MaxDatasize = 1<<16 - 1

// headerLen is the size of a packet header: modifier1, datasize (16-bit
// little endian), modifier2.
const headerLen = 4

// A Packet is one uwsgi request packet: a 4-byte header and a vars
// block of key/value pairs, each string preceded by its 16-bit
// little-endian length. Modifier1 0 with Modifier2 0 is a WSGI (and PSGI,
// Rack, ...) request.
//
// The zero value is an empty WSGI request packet. A Packet is a plain
// value: safe to copy, not safe to change while another goroutine reads
// it.
type Packet struct {
	Modifier1, Modifier2 uint8
	Vars                 []Param
}

// Append appends the encoded packet to dst. It fails with an error
// wrapping ErrPacketTooLarge, leaving dst as it was, when the vars block
// exceeds MaxDatasize bytes.
func (p Packet) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, p.Modifier1, 0, 0, p.Modifier2)
	for _, v := range p.Vars {
		dst = appendVar(dst, v.Name, v.Value)
	}
	return finishPacket(dst, start)
}

// finishPacket fills in the datasize of the packet that starts at
// dst[start], or, if its vars block is too large, returns dst[:start]
// and an error giving the size.
func finishPacket(dst []byte, start int) ([]byte, error) {
	n := len(dst) - start - headerLen
	if n > MaxDatasize {
		return dst[:start], &sizeError{n}
	}
	binary.LittleEndian.PutUint16(dst[start+1:], uint16(n))
	return dst, nil
}

// sizeError is ErrPacketTooLarge with the size of the vars block.
type sizeError struct{ size int }

func (e *sizeError) Error() string {
	return fmt.Sprintf("uwsgi packet of %d bytes exceeds the protocol's 64 KiB limit", e.size)
}

func (e *sizeError) Is(target error) bool { return target == ErrPacketTooLarge }

// appendVar appends one key/value pair. Lengths over 65535 wrap; the
// vars block is then over MaxDatasize too, which finishPacket refuses.
func appendVar(b []byte, k, v string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(k)))
	b = append(b, k...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// ReadPacket reads one packet: its header, then datasize bytes of vars.
// It fails with ErrShortPacket (or the reader's error) when r ends early
// and with ErrMalformedPacket when the pairs do not fill the vars block
// exactly. It reads nothing past the vars block, so a request body that
// follows stays in r. It allocates at most the 64 KiB the header
// announces.
func ReadPacket(r io.Reader) (Packet, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Packet{}, shortErr(err)
	}
	block := make([]byte, binary.LittleEndian.Uint16(h[1:3]))
	if _, err := io.ReadFull(r, block); err != nil {
		return Packet{}, shortErr(err)
	}
	vars, err := parseVars(block)
	if err != nil {
		return Packet{}, err
	}
	return Packet{Modifier1: h[0], Modifier2: h[3], Vars: vars}, nil
}

func shortErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrShortPacket
	}
	return err
}

// parseVars decodes a vars block.
func parseVars(b []byte) ([]Param, error) {
	var vars []Param
	size := len(b)
	for len(b) > 0 {
		k, rest, ok := cutString(b)
		if !ok {
			return nil, fmt.Errorf("%w: key at offset %d overruns the block", ErrMalformedPacket, size-len(b))
		}
		v, rest, ok := cutString(rest)
		if !ok {
			return nil, fmt.Errorf("%w: value of %q overruns the block", ErrMalformedPacket, k)
		}
		vars = append(vars, Param{Name: k, Value: v})
		b = rest
	}
	return vars, nil
}

// cutString splits a length-prefixed string off the front of b.
func cutString(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.LittleEndian.Uint16(b))
	if len(b)-2 < n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}
