package repl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// A frame is one message on the channel between the host and the child, in
// either direction:
//
//	magic [8]byte | header length uint32 | blob length uint32 | header | blob
//
// The lengths are big-endian. The header is a JSON object with an "op" field;
// the blob carries a large string raw, so that a multi-megabyte document is
// neither escaped nor parsed. The magic is random per process: bytes that user
// code writes into the channel's descriptor do not form a valid frame, and the
// host treats anything that is not one as the end of that child.
type frame struct {
	header []byte
	blob   []byte
}

const frameHeadSize = 16

// errProtocol marks a malformed frame from the child.
var errProtocol = errors.New("repl: malformed frame from python")

// readFrame reads one frame, refusing any whose header or blob exceeds limit
// bytes before allocating for it.
func readFrame(r io.Reader, magic [8]byte, limit int) (frame, error) {
	var head [frameHeadSize]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return frame{}, fmt.Errorf("%w: truncated frame", errProtocol)
		}
		return frame{}, err
	}
	if !bytes.Equal(head[:8], magic[:]) {
		return frame{}, fmt.Errorf("%w: bad magic %q", errProtocol, head[:8])
	}
	hlen := binary.BigEndian.Uint32(head[8:12])
	blen := binary.BigEndian.Uint32(head[12:16])
	if uint64(hlen)+uint64(blen) > uint64(limit) || hlen == 0 {
		return frame{}, fmt.Errorf("%w: frame of %d+%d bytes (limit %d)", errProtocol, hlen, blen, limit)
	}
	// Two allocations, so that the header can be freed once decoded while
	// the values keep the blob.
	f := frame{header: make([]byte, hlen)}
	if _, err := io.ReadFull(r, f.header); err != nil {
		return frame{}, fmt.Errorf("%w: truncated frame: %w", errProtocol, err)
	}
	if blen > 0 {
		f.blob = make([]byte, blen)
		if _, err := io.ReadFull(r, f.blob); err != nil {
			return frame{}, fmt.Errorf("%w: truncated frame: %w", errProtocol, err)
		}
	}
	return f, nil
}

// blobString returns the text of a frame's blob without copying it: a blob
// is never written once read, and the string is the only thing that keeps
// it. Invalid UTF-8 (lone surrogates Python wrote with surrogatepass) is
// replaced by U+FFFD, in a copy.
func blobString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	s := unsafe.String(&b[0], len(b))
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, string(utf8.RuneError))
	}
	return s
}

// outFrame is a frame on its way to the child. The blob is a string so that a
// document passed to Set is written from the caller's memory, not copied.
type outFrame struct {
	header []byte
	blob   string
	raw    []byte // written as is, before any framing (the bootstrap source)
}

func (f outFrame) writeTo(w io.Writer, magic [8]byte) error {
	if f.raw != nil {
		_, err := w.Write(f.raw)
		return err
	}
	buf := make([]byte, frameHeadSize, frameHeadSize+len(f.header))
	copy(buf, magic[:])
	binary.BigEndian.PutUint32(buf[8:12], uint32(len(f.header)))
	binary.BigEndian.PutUint32(buf[12:16], uint32(len(f.blob)))
	buf = append(buf, f.header...)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	if f.blob != "" {
		_, err := io.WriteString(w, f.blob)
		return err
	}
	return nil
}

func (f outFrame) size() int { return len(f.header) + len(f.blob) }
