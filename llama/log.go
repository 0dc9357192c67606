package llama

import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// logger receives llama.cpp's and ggml's log lines. Nil (the default) keeps
// the library quiet; see [SetLogger].
var logger atomic.Pointer[slog.Logger]

// SetLogger routes llama.cpp's and ggml's log messages to l: ggml's levels
// map to slog's (debug, info, warn, error), each message one record with the
// attribute "source" set to "llama.cpp". A nil l silences them again, which is
// the default. Errors that explain a failed call are kept regardless and end
// up in the returned Go error.
func SetLogger(l *slog.Logger) { logger.Store(l) }

// recentErrors keeps llama.cpp's last error lines so that a failed call can
// say why in its Go error: llama.cpp reports causes only through its log.
var recentErrors struct {
	sync.Mutex
	lines []string
	seq   uint64 // number of lines ever recorded
}

const maxRecentErrors = 8

// logLine assembles fragments: llama.cpp may log one line in several calls
// (GGML_LOG_LEVEL_CONT continues the previous level).
var logLine struct {
	sync.Mutex
	level slog.Level
	buf   strings.Builder
}

// ggml_log_level values (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5.
const ggmlLogCont = 5

func slogLevel(ggmlLevel int) slog.Level {
	switch ggmlLevel {
	case 1:
		return slog.LevelDebug
	case 3:
		return slog.LevelWarn
	case 4:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

//export goLog
func goLog(level C.int, text *C.char) {
	s := C.GoString(text)
	logLine.Lock()
	if int(level) != ggmlLogCont {
		logLine.level = slogLevel(int(level))
	}
	logLine.buf.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		logLine.Unlock()
		return
	}
	line := strings.TrimSpace(logLine.buf.String())
	lvl := logLine.level
	logLine.buf.Reset()
	logLine.Unlock()
	if line == "" {
		return
	}
	if lvl >= slog.LevelError {
		recentErrors.Lock()
		recentErrors.lines = append(recentErrors.lines, line)
		if len(recentErrors.lines) > maxRecentErrors {
			recentErrors.lines = recentErrors.lines[1:]
		}
		recentErrors.seq++
		recentErrors.Unlock()
	}
	if l := logger.Load(); l != nil && l.Enabled(context.Background(), lvl) {
		l.Log(context.Background(), lvl, line, "source", "llama.cpp")
	}
}

// errorMark returns a position in the error log; errorsSince returns the
// lines logged after it, joined, for use in an error message.
func errorMark() uint64 {
	recentErrors.Lock()
	defer recentErrors.Unlock()
	return recentErrors.seq
}

func errorsSince(mark uint64) string {
	recentErrors.Lock()
	defer recentErrors.Unlock()
	n := int(recentErrors.seq - mark)
	if n <= 0 {
		return ""
	}
	if n > len(recentErrors.lines) {
		n = len(recentErrors.lines)
	}
	return strings.Join(recentErrors.lines[len(recentErrors.lines)-n:], "; ")
}
