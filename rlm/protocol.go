package rlm

import (
	"fmt"
	"strings"
)

// Protocol is the way a controller submits its final answer, as the system
// prompt teaches it. Whichever is taught, the engine accepts both: models
// trained with either harness speak their own.
type Protocol int

const (
	// ProtocolAnswer: the REPL holds a dict `answer`, {"content": "",
	// "ready": False}; code sets answer["content"] and then
	// answer["ready"] = True, and the run ends after that block with
	// str(answer["content"]). The reference implementation (alexzhang13/rlm)
	// teaches this since 2026, when it removed FINAL and FINAL_VAR. This is
	// the default.
	ProtocolAnswer Protocol = iota + 1
	// ProtocolFinal: FINAL(answer) and FINAL_VAR(name), as functions in
	// code or as text on a line of their own, the RLM paper's protocol.
	ProtocolFinal
)

var protocolNames = map[Protocol]string{ProtocolAnswer: "answer", ProtocolFinal: "final"}

// String returns "answer" or "final".
func (p Protocol) String() string {
	if name, ok := protocolNames[p]; ok {
		return name
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// ParseProtocol reads a protocol's name as [Protocol.String] writes it.
func ParseProtocol(name string) (Protocol, error) {
	for p, n := range protocolNames {
		if strings.EqualFold(n, strings.TrimSpace(name)) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown protocol %q (want answer or final)", ErrInvalidOption, name)
}

// Set parses name, so that a *Protocol is a flag.Value.
func (p *Protocol) Set(name string) error {
	parsed, err := ParseProtocol(name)
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}

// howToAnswer is the protocol's instruction, for the first message and the
// last request for an answer.
func (p Protocol) howToAnswer() string {
	if p == ProtocolFinal {
		return "FINAL(your answer)"
	}
	return `answer["content"] = your answer; answer["ready"] = True (in a ` + "```repl" + ` block)`
}
