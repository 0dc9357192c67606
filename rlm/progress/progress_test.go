package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, "model.gguf", 4<<30, WithUnit(Bytes), WithClock(c.now))
	c.advance(2 * time.Second)
	b.Add(1 << 30) // first report: drawn at once
	c.advance(5 * time.Second)
	b.Add(1 << 30) // within the interval: not drawn
	c.advance(6 * time.Second)
	b.Add(1 << 30) // 13s in: drawn
	b.Finish()
	b.Finish()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	assert.Equal(t, []string{
		"model.gguf   25%  1.0 GiB/4.0 GiB  512.0 MiB/s  ETA 6s",
		"model.gguf   75%  3.0 GiB/4.0 GiB  236.3 MiB/s  ETA 4s",
		"model.gguf   75%  3.0 GiB/4.0 GiB  236.3 MiB/s  in 13s",
	}, lines)
}

func TestTerminalRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, "rows", 100, WithTerminal(true), WithItemName("examples"), WithClock(c.now))
	c.advance(time.Second)
	b.Set(10)
	c.advance(100 * time.Millisecond)
	b.Set(20) // within 200ms: not drawn
	c.advance(900 * time.Millisecond)
	b.Set(100)
	b.Finish()
	text := out.String()
	assert.True(t, strings.HasPrefix(text, "\r"))
	assert.True(t, strings.HasSuffix(text, "\n"))
	var lines []string
	for _, line := range strings.Split(strings.TrimSuffix(text[1:], "\n"), "\r") {
		lines = append(lines, strings.TrimRight(line, " "))
	}
	assert.Equal(t, []string{
		"rows   10% [==>                 ]  10/100 examples  10/s  ETA 9s",
		"rows  100% [====================]  100/100 examples  50/s",
		"rows  100% [====================]  100/100 examples  50/s  in 2s",
	}, lines)
	// A shorter line is padded to erase the longer one before it.
	second := strings.Split(text, "\r")[2]
	assert.Len(t, second, len("rows   10% [==>                 ]  10/100 examples  10/s  ETA 9s"))
}

func TestInitialIsNotInTheRate(t *testing.T) {
	c := newClock()
	b := New(&bytes.Buffer{}, "", 1000, WithInitial(600), WithClock(c.now))
	c.advance(2 * time.Second)
	b.Add(200)
	assert.Equal(t, " 80%  800/1000  100/s  ETA 2s", b.String())
}

func TestUnknownTotal(t *testing.T) {
	c := newClock()
	b := New(&bytes.Buffer{}, "scan", 0, WithUnit(Bytes), WithClock(c.now))
	c.advance(time.Second)
	b.Add(3 << 20)
	assert.Equal(t, "scan  3.0 MiB  3.0 MiB/s", b.String())
}

func TestNilBar(t *testing.T) {
	var b *Bar
	b.Add(1)
	b.Set(2)
	b.SetTotal(3)
	b.Finish()
	n, err := b.Write([]byte("abc"))
	assert.Equal(t, 3, n)
	assert.NoError(t, err)
	assert.Empty(t, b.String())
}

func TestConcurrentAdds(t *testing.T) {
	b := New(&bytes.Buffer{}, "", 0, WithInterval(time.Hour))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				_, _ = b.Write([]byte("x"))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(8000), b.done)
}

func TestFormats(t *testing.T) {
	assert.Equal(t, "512 B", formatBytes(512))
	assert.Equal(t, "1.5 KiB", formatBytes(1536))
	assert.Equal(t, "2.0 GiB", formatBytes(2<<30))
	assert.Equal(t, "45s", formatDuration(45*time.Second))
	assert.Equal(t, "12m05s", formatDuration(12*time.Minute+5*time.Second))
	assert.Equal(t, "1h02m03s", formatDuration(time.Hour+2*time.Minute+3*time.Second))
	assert.Equal(t, "[=====>     ]", bar(0.5, 11))
	assert.Equal(t, "[===]", bar(1, 3))
	assert.False(t, isTerminal(&bytes.Buffer{}))
}
