//go:build cgo

// Linked with runtime/cgo when cgo is on: a dynamically linked program whose threads libc starts.
package main

import _ "runtime/cgo"
