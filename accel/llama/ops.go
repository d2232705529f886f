package llama

import "math"

// RMSNorm sets out[i] = x[i] / sqrt(mean(x²) + eps) × weight[i]. out may
// alias x. It is the reference the fast kernels (accel/cpu) are tested
// against, as are Softmax and SwiGLU.
func RMSNorm(out, x, weight []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	for i, v := range x {
		out[i] = float32(float64(v)*scale) * weight[i]
	}
}

// rope rotates, in place, each head of width headDim in x (llama.cpp's
// normal mode): pairs (x[2i], x[2i+1]) by the angle pos·theta^(-2i/headDim).
func rope(x []float32, headDim, pos int, theta float32) {
	for h := 0; h+headDim <= len(x); h += headDim {
		for i := 0; i < headDim/2; i++ {
			freq := math.Pow(float64(theta), -float64(2*i)/float64(headDim))
			sin, cos := math.Sincos(float64(pos) * freq)
			a, b := float64(x[h+2*i]), float64(x[h+2*i+1])
			x[h+2*i] = float32(a*cos - b*sin)
			x[h+2*i+1] = float32(a*sin + b*cos)
		}
	}
}

// Softmax replaces x with exp(x - max) / sum, in place.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v - m))
		x[i] = float32(e)
		sum += e
	}
	for i := range x {
		x[i] = float32(float64(x[i]) / sum)
	}
}

// silu returns x·sigmoid(x).
func silu(x float32) float32 {
	return float32(float64(x) / (1 + math.Exp(-float64(x))))
}

// SwiGLU sets gate[i] = silu(gate[i]) × up[i].
func SwiGLU(gate, up []float32) {
	for i := range gate {
		gate[i] = silu(gate[i]) * up[i]
	}
}
