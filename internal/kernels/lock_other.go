//go:build !unix

package kernels

// Lock does nothing where kernel libraries are not built.
func Lock(dir string) (unlock func(), err error) { return func() {}, nil }
