package kernels

import "unsafe"

// complexAsFloats views a complex64 slice as twice as many float32s
// (real, imag interleaved) so one scratch pool serves both.
func complexAsFloats(c []complex64) []float32 {
	if len(c) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&c[0])), 2*len(c))
}
