package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Unit says what a [Bar] counts.
type Unit int

const (
	// Items are counted as plain numbers ("1234/6000 examples").
	Items Unit = iota
	// Bytes are counted in binary units ("1.2 GiB/4.7 GiB").
	Bytes
)

// Bar reports the progress of a task towards a known total (or an unknown
// one, total ≤ 0): done and total, percentage, rate and time left. On a
// terminal it redraws one line in place; on anything else it writes a plain
// line now and then, fit for logs. All methods are safe for concurrent use
// and do nothing on a nil *Bar, so a Bar that is not wanted can stay nil.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	unit     Unit
	itemName string
	total    int64
	done     int64
	initial  int64 // done before this run started (a resumed download): not in the rate
	terminal bool
	interval time.Duration
	now      func() time.Time
	start    time.Time
	drawn    time.Time // last draw, zero before the first
	width    int       // length of the last terminal line, to clear it
	finished bool
}

// Option configures a [Bar].
type Option func(*Bar)

// WithUnit sets what the Bar counts. The default is [Items].
func WithUnit(u Unit) Option { return func(b *Bar) { b.unit = u } }

// WithItemName names the items counted, as in "120/6000 examples". The
// default is no name.
func WithItemName(name string) Option { return func(b *Bar) { b.itemName = name } }

// WithInitial starts the Bar at n done, such as the bytes a resumed download
// already has; they count towards the percentage but not the rate. The
// default is 0.
func WithInitial(n int64) Option { return func(b *Bar) { b.initial, b.done = n, n } }

// WithTerminal says whether the writer is a terminal. The default is
// detected: true for a character device such as a terminal, false for files,
// pipes and other writers.
func WithTerminal(terminal bool) Option { return func(b *Bar) { b.terminal = terminal } }

// WithInterval sets the least time between two reports. The default is
// 200ms on a terminal and 10s otherwise.
func WithInterval(d time.Duration) Option { return func(b *Bar) { b.interval = d } }

// WithClock sets the clock the Bar reads for rates and times. The default is
// time.Now; tests and examples pass a fixed one.
func WithClock(now func() time.Time) Option { return func(b *Bar) { b.now = now } }

// New returns a Bar that writes to w about a task labelled label, of total
// units (≤ 0 when not known).
func New(w io.Writer, label string, total int64, opts ...Option) *Bar {
	b := &Bar{w: w, label: label, total: total, terminal: isTerminal(w), now: time.Now}
	for _, opt := range opts {
		opt(b)
	}
	if b.interval == 0 {
		b.interval = 10 * time.Second
		if b.terminal {
			b.interval = 200 * time.Millisecond
		}
	}
	b.start = b.now()
	return b
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Add counts n more units done.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.maybeDraw()
}

// Set sets the units done.
func (b *Bar) Set(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = n
	b.maybeDraw()
}

// SetTotal changes the total, for a task whose size becomes known late.
func (b *Bar) SetTotal(total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = total
}

// Write counts len(p) bytes done, so that a Bar can sit in an io.MultiWriter
// or io.TeeReader beside the data it measures. It never fails.
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(int64(len(p)))
	return len(p), nil
}

// Finish writes the final report and ends the line. Later calls do nothing.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.draw(b.now())
	if b.terminal {
		fmt.Fprintln(b.w)
	}
}

// String returns the current report, as drawn.
func (b *Bar) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.report(b.now())
}

func (b *Bar) maybeDraw() {
	if b.finished {
		return
	}
	now := b.now()
	if !b.drawn.IsZero() && now.Sub(b.drawn) < b.interval {
		return
	}
	b.draw(now)
}

func (b *Bar) draw(now time.Time) {
	b.drawn = now
	line := b.report(now)
	if !b.terminal {
		fmt.Fprintln(b.w, line)
		return
	}
	pad := ""
	if n := b.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	b.width = len(line)
	fmt.Fprint(b.w, "\r"+line+pad)
}

// report formats "label  45% [=====>    ] 1.2 GiB/2.7 GiB  31.5 MiB/s  ETA 48s".
func (b *Bar) report(now time.Time) string {
	var parts []string
	if b.label != "" {
		parts = append(parts, b.label)
	}
	elapsed := now.Sub(b.start)
	rate := 0.0
	if secs := elapsed.Seconds(); secs > 0 {
		rate = float64(b.done-b.initial) / secs
	}
	count := b.format(b.done)
	if b.total > 0 {
		fraction := min(float64(b.done)/float64(b.total), 1)
		percent := fmt.Sprintf("%3.0f%%", 100*fraction)
		if b.terminal {
			percent += " " + bar(fraction, 20)
		}
		parts = append(parts, percent)
		count += "/" + b.format(b.total)
	}
	if b.itemName != "" {
		count += " " + b.itemName
	}
	parts = append(parts, count)
	if rate > 0 {
		parts = append(parts, b.format(int64(rate))+"/s")
	}
	switch {
	case b.finished:
		parts = append(parts, "in "+formatDuration(elapsed))
	case b.total > 0 && rate > 0 && b.done < b.total:
		parts = append(parts, "ETA "+formatDuration(time.Duration(float64(b.total-b.done)/rate*float64(time.Second))))
	}
	return strings.Join(parts, "  ")
}

func (b *Bar) format(n int64) string {
	if b.unit == Bytes {
		return formatBytes(n)
	}
	return fmt.Sprint(n)
}

// bar draws a bar of width cells filled to fraction.
func bar(fraction float64, width int) string {
	filled := int(fraction * float64(width))
	if filled >= width {
		return "[" + strings.Repeat("=", width) + "]"
	}
	return "[" + strings.Repeat("=", filled) + ">" + strings.Repeat(" ", width-filled-1) + "]"
}

// formatBytes writes n in binary units: "512 B", "1.5 KiB", "3.0 GiB".
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	value, i := float64(n)/1024, 0
	for value >= 1024 && i < len(units)-1 {
		value /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", value, units[i])
}

// formatDuration writes d rounded to the second: "45s", "12m05s", "1h02m03s".
func formatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm%02ds", s/3600, s%3600/60, s%60)
	}
}
