package llama

// #include <stdint.h>
// #include "bridge.h"
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
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
// up in the returned Go error. l's handler is called from inside llama.cpp:
// a handler that panics fails the call that logged, as an error.
func SetLogger(l *slog.Logger) { logger.Store(l) }

// A callLog collects what llama.cpp logs during one call of this package:
// the lines that explain a failure, and any panic recovered in a Go function
// that llama.cpp called back meanwhile. Lines are attributed by thread:
// [logged] ties the calling thread to the callLog for the call's duration,
// so calls running at once in other goroutines never see each other's lines.
type callLog struct {
	mu     sync.Mutex
	errors []string
	panics []error
}

// maxCallErrors bounds the error lines one call keeps (the last ones win).
const maxCallErrors = 8

// callLogs maps the key given to C (rlm_log_swap) to its callLog while the
// call runs.
var (
	callLogs   sync.Map // uintptr → *callLog
	nextCallID atomic.Uintptr
)

// logged runs fn, which calls into llama.cpp, with the calling thread's log
// lines attributed to a fresh callLog, and returns it.
func logged(fn func()) *callLog {
	l := &callLog{}
	id := nextCallID.Add(1)
	callLogs.Store(id, l)
	// The goroutine must stay on this thread between setting the thread's
	// key and the call, and until the key is restored.
	runtime.LockOSThread()
	prev := C.rlm_log_swap(C.uintptr_t(id))
	defer func() {
		C.rlm_log_swap(prev)
		runtime.UnlockOSThread()
		callLogs.Delete(id)
	}()
	fn()
	return l
}

// detail joins the error lines llama.cpp logged during the call.
func (l *callLog) detail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.errors, "; ")
}

// err reports a panic recovered during the call, if any.
func (l *callLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.panics) == 0 {
		return nil
	}
	return l.panics[0]
}

func (l *callLog) addError(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, line)
	if len(l.errors) > maxCallErrors {
		l.errors = l.errors[1:]
	}
}

func (l *callLog) addPanic(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.panics = append(l.panics, err)
}

// ggml_log_level values (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5.
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

// goLogLine receives one whole log line from the C log callback, with the
// key of the call the logging thread was running (0 for none).
//
//export goLogLine
func goLogLine(level C.int, text *C.char, n C.int, call C.uintptr_t) {
	var owner *callLog
	if v, ok := callLogs.Load(uintptr(call)); ok {
		owner = v.(*callLog)
	}
	defer func() {
		// A panic must not unwind through llama.cpp's frames. It fails the
		// call that logged; a line logged outside any call has no call to
		// fail, and the panic is dropped with it.
		if r := recover(); r != nil && owner != nil {
			owner.addPanic(fmt.Errorf("log handler panicked: %v", r))
		}
	}()
	line := strings.TrimSpace(C.GoStringN(text, n))
	if line == "" {
		return
	}
	lvl := slogLevel(int(level))
	if lvl >= slog.LevelError && owner != nil {
		owner.addError(line)
	}
	if l := logger.Load(); l != nil && l.Enabled(context.Background(), lvl) {
		l.Log(context.Background(), lvl, line, "source", "llama.cpp")
	}
}
