// Package readme rewrites the generated sections of a README: the text
// between a begin and an end marker, such as <!-- routing:begin --> and
// <!-- routing:end -->, which the benchmark commands regenerate.
package readme

import (
	"bytes"
	"errors"
)

// ErrMarkers is returned when a document lacks the markers, or has them
// in the wrong order.
var ErrMarkers = errors.New("readme: the document lacks the section's markers, in order")

// Rewrite returns doc with the text between begin and end replaced by
// section (trimmed, on lines of its own).
func Rewrite(doc, section []byte, begin, end string) ([]byte, error) {
	i := bytes.Index(doc, []byte(begin))
	if i < 0 {
		return nil, errors.Join(ErrMarkers, errors.New("no "+begin))
	}
	i += len(begin)
	j := bytes.Index(doc[i:], []byte(end))
	if j < 0 {
		return nil, errors.Join(ErrMarkers, errors.New("no "+end+" after "+begin))
	}
	j += i
	var out bytes.Buffer
	out.Write(doc[:i])
	out.WriteString("\n")
	out.Write(bytes.TrimSpace(section))
	out.WriteString("\n")
	out.Write(doc[j:])
	return out.Bytes(), nil
}
