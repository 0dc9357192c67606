// Package npmtest gives tests independent readers written for Node.js: it
// installs npm packages once into the user's cache directory and runs
// node programs with them, decoding the JSON they print.
//
// # Skipping
//
// [Modules] skips the test, saying why, when node or npm is missing or
// the registry cannot be reached: the checks it serves are extra
// evidence, not something every machine must give.
//
// # Concurrency
//
// Its functions are safe for concurrent use, by the tests of one process
// and by several test processes at once.
package npmtest
