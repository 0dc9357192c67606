package repl

import (
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Landlock (Linux 5.13 and later) lets an unprivileged process give up
// access to the filesystem for itself and its future threads. The host
// plans the ruleset here, for the ABI its kernel speaks; the bootstrap opens
// the paths, builds the ruleset and restricts itself before any cell runs.

// The rights, by the ABI that introduced them, under short names for the
// plan below; x/sys/unix has the kernel's values.
const (
	llExecute    = unix.LANDLOCK_ACCESS_FS_EXECUTE
	llWriteFile  = unix.LANDLOCK_ACCESS_FS_WRITE_FILE
	llReadFile   = unix.LANDLOCK_ACCESS_FS_READ_FILE
	llReadDir    = unix.LANDLOCK_ACCESS_FS_READ_DIR
	llRemoveDir  = unix.LANDLOCK_ACCESS_FS_REMOVE_DIR
	llRemoveFile = unix.LANDLOCK_ACCESS_FS_REMOVE_FILE
	llMakeChar   = unix.LANDLOCK_ACCESS_FS_MAKE_CHAR
	llMakeDir    = unix.LANDLOCK_ACCESS_FS_MAKE_DIR
	llMakeReg    = unix.LANDLOCK_ACCESS_FS_MAKE_REG
	llMakeSock   = unix.LANDLOCK_ACCESS_FS_MAKE_SOCK
	llMakeFifo   = unix.LANDLOCK_ACCESS_FS_MAKE_FIFO
	llMakeBlock  = unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK
	llMakeSym    = unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	llRefer      = unix.LANDLOCK_ACCESS_FS_REFER     // ABI 2
	llTruncate   = unix.LANDLOCK_ACCESS_FS_TRUNCATE  // ABI 3
	llIoctlDev   = unix.LANDLOCK_ACCESS_FS_IOCTL_DEV // ABI 5

	// Network rights (ABI 4) and scopes (ABI 6).
	llBindTCP           = unix.LANDLOCK_ACCESS_NET_BIND_TCP
	llConnectTCP        = unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
	llScopeAbstractUnix = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
	llScopeSignal       = unix.LANDLOCK_SCOPE_SIGNAL

	llFileRights           = llExecute | llWriteFile | llReadFile | llTruncate | llIoctlDev
	landlockRightsReadOnly = llReadFile | llReadDir
)

// landlockPlan is the ruleset the bootstrap builds: the rights it handles
// (everything the ABI knows: what no rule grants is denied) and the rules
// that grant some of them beneath paths.
type landlockPlan struct {
	ABI        int            `json:"abi"`
	HandledFS  uint64         `json:"handled_fs"`
	HandledNet uint64         `json:"handled_net"`
	Scoped     uint64         `json:"scoped"`
	AttrSize   int            `json:"attr_size"`   // of struct landlock_ruleset_attr for this ABI
	FileRights uint64         `json:"file_rights"` // the rights a rule on a file (not a directory) may hold
	Rules      []landlockRule `json:"rules"`
}

type landlockRule struct {
	Path   string `json:"path"`
	Access uint64 `json:"access"`
}

var landlockABI = sync.OnceValue(func() int {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(abi)
})

// systemReadPaths are read-only for the dynamic loader and the C library:
// extension modules load shared libraries (libffi, libsqlite3, libz...) as
// they are imported, and time and locale functions read their tables. None
// of them holds anything of the host's.
var systemReadPaths = []string{
	"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
	"/etc/ld.so.cache", "/etc/localtime", "/usr/share/zoneinfo",
}

// Device files the process may open; the first may also be written.
var (
	writableDevices = []string{"/dev/null"}
	readableDevices = []string{"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}
)

// planLandlock builds the ruleset for abi: read-only access to readRoots,
// read-write access to scratch, and the devices above.
func planLandlock(abi int, scratch string, readRoots []string) *landlockPlan {
	if abi <= 0 {
		return nil
	}
	p := &landlockPlan{ABI: abi, HandledFS: llExecute | llWriteFile | llReadFile | llReadDir |
		llRemoveDir | llRemoveFile | llMakeChar | llMakeDir | llMakeReg | llMakeSock |
		llMakeFifo | llMakeBlock | llMakeSym, AttrSize: 8, FileRights: llFileRights}
	if abi >= 2 {
		p.HandledFS |= llRefer
	}
	if abi >= 3 {
		p.HandledFS |= llTruncate
	}
	if abi >= 4 {
		p.HandledNet = llBindTCP | llConnectTCP
		p.AttrSize = 16
	}
	if abi >= 5 {
		p.HandledFS |= llIoctlDev
	}
	if abi >= 6 {
		p.Scoped = llScopeAbstractUnix | llScopeSignal
		p.AttrSize = 24
	}
	// The scratch directory: everything but running programs and making
	// devices or sockets.
	scratchRights := p.HandledFS &^ (llExecute | llMakeChar | llMakeBlock | llMakeSock | llIoctlDev)
	p.Rules = append(p.Rules, landlockRule{Path: scratch, Access: scratchRights})
	seen := map[string]bool{scratch: true}
	for _, path := range readRoots {
		if !seen[path] {
			seen[path] = true
			p.Rules = append(p.Rules, landlockRule{Path: path, Access: landlockRightsReadOnly})
		}
	}
	for _, dev := range writableDevices {
		p.Rules = append(p.Rules, landlockRule{Path: dev, Access: (llReadFile | llWriteFile | llTruncate) & p.HandledFS})
	}
	for _, dev := range readableDevices {
		p.Rules = append(p.Rules, landlockRule{Path: dev, Access: llReadFile})
	}
	return p
}

// existingPaths keeps the paths that exist, resolved, for the audit hook's
// read roots.
func existingPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if _, err := os.Stat(real); err == nil {
				out = append(out, real)
			}
		}
	}
	return out
}
