package llama

// Batch is the input of one [Context.Decode]: tokens, each with its position,
// its sequence and whether logits are wanted there. It is plain Go memory,
// copied into the context's own C batch at Decode; reuse one with Reset. A
// Batch is not safe for concurrent use.
type Batch struct {
	tokens []Token
	pos    []int32
	seqs   []int32
	logits []bool
	tags   []int
}

// Add appends token at position pos of sequence seq; logits asks Decode to
// compute the next-token logits there.
func (b *Batch) Add(token Token, pos, seq int, logits bool) {
	b.AddTagged(token, pos, seq, logits, 0)
}

// AddTagged is Add with a tag of the caller's choosing, which hooks see in
// TokenRef.Tag: GenerateBatch tags each token with the index of its prompt.
func (b *Batch) AddTagged(token Token, pos, seq int, logits bool, tag int) {
	b.tokens = append(b.tokens, token)
	b.pos = append(b.pos, int32(pos))
	b.seqs = append(b.seqs, int32(seq))
	b.logits = append(b.logits, logits)
	b.tags = append(b.tags, tag)
}

// AddSequence appends tokens to sequence seq at positions start, start+1,
// ..., asking for logits at the last one only when lastLogits is set.
func (b *Batch) AddSequence(tokens []Token, start, seq int, lastLogits bool) {
	for i, t := range tokens {
		b.Add(t, start+i, seq, lastLogits && i == len(tokens)-1)
	}
}

// addSequenceTagged is AddSequence with a tag on every token.
func (b *Batch) addSequenceTagged(tokens []Token, start, seq int, lastLogits bool, tag int) {
	for i, t := range tokens {
		b.AddTagged(t, start+i, seq, lastLogits && i == len(tokens)-1, tag)
	}
}

// Len is the number of tokens in the batch.
func (b *Batch) Len() int { return len(b.tokens) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.tokens, b.pos, b.seqs, b.logits, b.tags = b.tokens[:0], b.pos[:0], b.seqs[:0], b.logits[:0], b.tags[:0]
}

// Entry returns what the batch holds at index i.
func (b *Batch) Entry(i int) (token Token, pos, seq int, logits bool) {
	return b.tokens[i], int(b.pos[i]), int(b.seqs[i]), b.logits[i]
}
