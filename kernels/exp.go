package kernels

import "math"

// Exp32 is a float32 exp: x = n·ln2 + r with Cody–Waite range reduction
// (ln2 split in two so r is exact), a degree-6 polynomial for e^r on
// |r| ≤ ln2/2, and 2^n from the exponent bits. Relative error below 3e-7 for
// normal results, at a fraction of math.Exp's cost. Underflows to 0 below
// -87.3, +Inf above 88.7.
func Exp32(x float32) float32 {
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		return 0
	}
	const ln2Hi, ln2Lo = 0.693359375, -2.12194440e-4
	n := float32(math.Floor(float64(x*1.4426950408889634 + 0.5)))
	r := x - n*ln2Hi - n*ln2Lo
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	if n > 127 { // e^x just below the overflow bound: split 2^n
		return p * 2 * math.Float32frombits(uint32(int32(n)-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
