package repl

import (
	"context"
	"fmt"
	"time"
)

// One goroutine, the owner, holds each REPL's child process and all state
// about it; the exported methods hand it requests. Because it never blocks
// (writes go through the child's queue, host functions run in their own
// goroutines), it can serve a Get or a Set while a cell runs, time a cell
// out, and notice the process dying, whatever Python is doing.

type reqKind int

const (
	reqExec reqKind = iota
	reqGet
	reqSet
)

func (k reqKind) String() string {
	return [...]string{"exec", "get", "set"}[k]
}

type request struct {
	kind    reqKind
	ctx     context.Context // Exec and Get
	code    string          // Exec
	name    string          // Get
	binding binding         // Set
	reply   chan response   // buffered: the owner never waits for the caller
}

// target is the variable a Get or Set is about.
func (req *request) target() string {
	if req.kind == reqSet {
		return req.binding.name
	}
	return req.name
}

type response struct {
	result Result
	value  any
	err    error
}

// processSettleTime is how long a process whose channel ended may take to
// exit by itself before it is killed.
const processSettleTime = 250 * time.Millisecond

// startTimeout bounds a (re)start of the Python process whose context has
// no deadline of its own.
const startTimeout = time.Minute

type owner struct {
	r        *REPL
	child    *child
	gen      uint64    // counts children, so that late host call results find the right one
	bindings []binding // what Set bound, in order, replayed after a restart
	lost     string    // why the last process ended between cells; the next cell reports it
	cell     *cell     // the running cell, if any
	waiting  map[int64]*request
	lastID   int64
	calls    chan callResult
}

func newOwner(r *REPL) *owner {
	return &owner{r: r, waiting: map[int64]*request{}, calls: make(chan callResult)}
}

func (o *owner) newID() int64 {
	o.lastID++
	return o.lastID
}

func (r *REPL) run(o *owner) {
	defer close(r.done)
	defer o.shutdown()
	for {
		var frames <-chan frame
		if o.child != nil {
			frames = o.child.frames
		}
		var ctxDone <-chan struct{}
		var timeout, grace <-chan time.Time
		if c := o.cell; c != nil && c.running() {
			if c.stop == notStopped {
				ctxDone = c.req.ctx.Done()
				if c.timeout != nil {
					timeout = c.timeout.C
				}
			} else {
				grace = c.grace.C
			}
		}
		select {
		case <-r.life.Done():
			return
		case req := <-r.reqs:
			o.handle(req)
		case f, ok := <-frames:
			if !ok {
				o.childEnded()
				continue
			}
			o.handleFrame(f)
		case res := <-o.calls:
			o.finishCall(res)
		case <-ctxDone:
			o.interrupt(stoppedCanceled)
		case <-timeout:
			o.interrupt(stoppedTimeout)
		case <-grace:
			o.dropChild("TimeoutError", "did not stop when interrupted and was killed")
		}
	}
}

func (o *owner) handle(req *request) {
	switch req.kind {
	case reqExec:
		o.startCell(req)
	case reqGet:
		if err := o.ensureChild(req.ctx); err != nil {
			req.reply <- response{err: err}
			return
		}
		id := o.newID()
		o.waiting[id] = req
		o.child.send(getFrame(id, req.name))
	case reqSet:
		alias := o.bind(req.binding)
		if o.child == nil { // bound when the next process starts
			req.reply <- response{}
			return
		}
		id := o.newID()
		o.waiting[id] = req
		o.child.send(setFrame(id, req.binding, alias))
	}
}

// bind records b, replacing an earlier binding of its name, and returns the
// name of another binding whose string Python can share.
func (o *owner) bind(b binding) (alias string) {
	i := 0
	for i < len(o.bindings) && o.bindings[i].name != b.name {
		i++
	}
	if i == len(o.bindings) {
		o.bindings = append(o.bindings, b)
	} else {
		o.bindings[i] = b
	}
	return aliasOf(b, o.bindings)
}

func aliasOf(b binding, among []binding) string {
	if !b.isText || len(b.text) < 1<<10 {
		return ""
	}
	for _, other := range among {
		// Equal strings sharing memory compare in constant time.
		if other.name != b.name && other.isText && other.text == b.text {
			return other.name
		}
	}
	return ""
}

func (o *owner) handleFrame(f frame) {
	msg, err := parseMessage(f)
	if err != nil {
		o.protocolError(err)
		return
	}
	switch {
	case msg.tooLarge && msg.Op == "call":
		o.child.send(retErrorFrame(msg.ID, fmt.Sprintf("repl: the arguments of %s are too large: as Go values they would take more than %d bytes (send long text as one string, which travels raw)", msg.Name, decodeBudget(msg.size))))
		return
	case msg.tooLarge && msg.Op == "reply":
		// handleReply reports it to the waiting request.
	case msg.tooLarge:
		o.protocolError(fmt.Errorf("%w: %s message too large to decode", errProtocol, msg.Op))
		return
	}
	switch msg.Op {
	case "reply":
		o.handleReply(msg)
	case "call":
		if err := msg.attachBlobs(); err != nil {
			o.protocolError(err)
			return
		}
		o.dispatchCall(msg)
	case "done":
		c := o.cell
		if c == nil || c.done != nil || msg.ID != c.id {
			o.protocolError(fmt.Errorf("%w: unexpected done for cell %d", errProtocol, msg.ID))
			return
		}
		c.done = msg
		c.cancelCalls() // threads the cell left behind get no more host calls
		o.maybeFinish()
	default:
		o.protocolError(fmt.Errorf("%w: unexpected op %q", errProtocol, msg.Op))
	}
}

func (o *owner) handleReply(msg *childMsg) {
	req, ok := o.waiting[msg.ID]
	if !ok {
		o.protocolError(fmt.Errorf("%w: reply to unknown request %d", errProtocol, msg.ID))
		return
	}
	delete(o.waiting, msg.ID)
	var resp response
	switch {
	case msg.Undefined:
		resp.err = fmt.Errorf("repl: %s %s: %w", req.kind, req.target(), ErrUndefined)
	case msg.Error != "":
		resp.err = fmt.Errorf("repl: %s %s: %s", req.kind, req.target(), msg.Error)
	case msg.tooLarge:
		resp.err = fmt.Errorf("repl: %s %s: %w", req.kind, req.target(), errTooLarge)
	case req.kind == reqGet && msg.Blob:
		resp.value = blobString(msg.blob)
	case req.kind == reqGet:
		resp.value = msg.Value
	}
	req.reply <- resp
}

// ensureChild starts a Python process if none runs: the bootstrap, the
// prelude, then the bindings.
func (o *owner) ensureChild(ctx context.Context) error {
	if o.child != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	defer context.AfterFunc(o.r.life, cancel)()

	r := o.r
	funcs, batch := r.cfg.hostNames()
	init := childInit{
		Scratch:      r.scratch,
		ReadRoots:    r.readRoots,
		SysPath:      r.interp.path,
		Funcs:        funcs,
		BatchFuncs:   batch,
		OutputLimit:  r.cfg.outputLimit,
		Display:      r.cfg.display,
		MessageLimit: r.cfg.messageLimit,
		Limits: childLimits{
			Memory: max(r.cfg.memoryLimit, 0),
			CPU:    int64((max(r.cfg.cpuLimit, 0) + time.Second - 1) / time.Second),
			NoFile: max(r.cfg.maxOpenFiles, 0),
			NProc:  max(r.cfg.maxProcesses, 0),
			FSize:  max(r.cfg.maxFileSize, 0),
		},
	}
	c, err := launch(ctx, launchSpec{interp: r.interp, dir: r.scratch, env: childEnv(r.scratch, r.cfg.envAllow),
		init: init, plan: r.planSandbox(), log: r.log})
	if err != nil {
		return err
	}
	layers := c.plan.layers(c.hello.Layers)
	if err := r.checkLayers(layers); err != nil {
		c.close()
		return err
	}
	if err := o.prepare(ctx, c); err != nil {
		c.close()
		return err
	}
	o.child = c
	o.gen++
	info := &processInfo{pid: c.pid, layers: layers}
	r.current.Store(info)
	r.last.Store(info)
	return nil
}

// prepare runs the prelude in a new process and replays the bindings.
func (o *owner) prepare(ctx context.Context, c *child) error {
	if code := o.r.cfg.prelude; code != "" {
		id := o.newID()
		c.send(execFrame(id, code, true))
		err := o.await(ctx, c, func(msg *childMsg) (bool, error) {
			if msg.Op != "done" || msg.ID != id {
				return false, fmt.Errorf("repl: start: unexpected %q from python", msg.Op)
			}
			if e := msg.Exception; e != nil {
				return true, fmt.Errorf("repl: start: prelude raised %s: %s\n%s", e.Type, e.Message, e.Traceback)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	pending := map[int64]string{}
	for i, b := range o.bindings {
		id := o.newID()
		pending[id] = b.name
		c.send(setFrame(id, b, aliasOf(b, o.bindings[:i])))
	}
	if len(pending) == 0 {
		return nil
	}
	return o.await(ctx, c, func(msg *childMsg) (bool, error) {
		name, ok := pending[msg.ID]
		if msg.Op != "reply" || !ok {
			return false, fmt.Errorf("repl: start: unexpected %q from python", msg.Op)
		}
		if msg.Error != "" {
			return false, fmt.Errorf("repl: start: bind %s: %s", name, msg.Error)
		}
		delete(pending, msg.ID)
		return len(pending) == 0, nil
	})
}

// await reads frames from a process being prepared until handle says done.
func (o *owner) await(ctx context.Context, c *child, handle func(*childMsg) (bool, error)) error {
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.close()
				_, why := c.failure()
				return fmt.Errorf("repl: start: python %s: %s", why, lastLine(c.tail.String()))
			}
			msg, err := parseMessage(f)
			if err != nil {
				return fmt.Errorf("repl: start: %w", err)
			}
			if msg.Op == "call" {
				c.send(retErrorFrame(msg.ID, "repl: host functions cannot be called while the prelude runs"))
				continue
			}
			if done, err := handle(msg); err != nil || done {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("repl: start: %w", ctx.Err())
		}
	}
}

// childEnded handles the end of the channel from the child: it died, or it
// broke the channel.
func (o *owner) childEnded() {
	o.child.settle(processSettleTime)
	excType, why := o.retire("")
	o.lose(excType, why)
}

func (o *owner) protocolError(err error) {
	o.dropChild("ProtocolError", "corrupted the channel to the host ("+err.Error()+")")
}

// dropChild kills the process, for the reason given.
func (o *owner) dropChild(excType, why string) {
	o.retire(why)
	o.lose(excType, why)
}

// retire kills and reaps the current process, answers the requests waiting
// on it and forgets it. With no reason of the host's, it returns why the
// process ended.
func (o *owner) retire(reason string) (excType, why string) {
	c := o.child
	o.child = nil
	o.r.current.Store(nil)
	c.close()
	if why = reason; why == "" {
		excType, why = c.failure()
	}
	o.r.log.Warn("repl: python process ended", "pid", c.pid, "reason", why, "output", c.tail.String())
	for id, req := range o.waiting {
		delete(o.waiting, id)
		if req.kind == reqSet {
			req.reply <- response{} // recorded: bound again at the restart
		} else {
			req.reply <- response{err: fmt.Errorf("repl: %s %s: the python process ended", req.kind, req.target())}
		}
	}
	return excType, why
}

// lose reports the loss of the process to the running cell, or to the next.
func (o *owner) lose(excType, why string) {
	if c := o.cell; c != nil && c.running() {
		c.died, c.diedType = why, excType
		c.restarted = true
		c.cancelCalls()
		o.maybeFinish()
		return
	}
	o.lost = why
}

// shutdown ends everything when the REPL closes.
func (o *owner) shutdown() {
	if o.child != nil {
		o.child.close()
		o.child = nil
	}
	if c := o.cell; c != nil {
		c.cancelCalls()
		for c.inflight > 0 {
			<-o.calls
			c.inflight--
		}
		c.stopTimers()
		o.cell = nil
		c.req.reply <- response{err: ErrClosed}
	}
	for id, req := range o.waiting {
		delete(o.waiting, id)
		req.reply <- response{err: ErrClosed}
	}
}

// binding is a value bound with Set, ready to send.
type binding struct {
	name   string
	isText bool
	text   string // the value, when it is a string: sent raw, from the caller's memory
	json   []byte // the encoded value otherwise
}

func newBinding(name string, value any, limit int) (binding, error) {
	b := binding{name: name}
	switch v := value.(type) {
	case string:
		b.isText, b.text = true, v
	case []byte:
		b.isText, b.text = true, string(v)
	default:
		raw, err := appendValue(nil, value)
		if err != nil {
			return binding{}, err
		}
		b.json = raw
	}
	if n := len(b.text) + len(b.json); n > limit-len(name)-128 {
		return binding{}, fmt.Errorf("value of %d bytes exceeds the message limit of %d", n, limit)
	}
	return b, nil
}
