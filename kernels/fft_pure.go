//go:build pure

package kernels

func (st *fftStage) applyVec(x, y []complex64, s int) bool { return false }
