package gguf

import "testing"

func TestTypes(t *testing.T) {
	cases := []struct {
		t           Type
		id          uint32
		name        string
		block, size int
	}{
		{F32, 0, "f32", 1, 4},
		{F16, 1, "f16", 1, 2},
		{Q4_0, 2, "q4_0", 32, 18},
		{Q8_0, 8, "q8_0", 32, 34},
		{Q4_K, 12, "q4_K", 256, 144},
		{Q5_K, 13, "q5_K", 256, 176},
		{Q6_K, 14, "q6_K", 256, 210},
		{Q8_K, 15, "q8_K", 256, 292},
		{IQ1_M, 29, "iq1_m", 256, 56},
		{BF16, 30, "bf16", 1, 2},
		{MXFP4, 39, "mxfp4", 32, 17},
	}
	for _, c := range cases {
		if uint32(c.t) != c.id || c.t.String() != c.name || c.t.BlockSize() != c.block || c.t.BlockBytes() != c.size || !c.t.Known() {
			t.Errorf("%v: id %d block %d bytes %d", c.t, uint32(c.t), c.t.BlockSize(), c.t.BlockBytes())
		}
	}
	if n, err := Q8_0.RowSize(2048); err != nil || n != 64*34 {
		t.Errorf("Q8_0.RowSize(2048) = %d, %v", n, err)
	}
	if n, err := Q4_K.RowSize(5632); err != nil || n != 22*144 {
		t.Errorf("Q4_K.RowSize(5632) = %d, %v", n, err)
	}
	if n, err := F16.RowSize(3); err != nil || n != 6 {
		t.Errorf("F16.RowSize(3) = %d, %v", n, err)
	}
	for _, bad := range []struct {
		t Type
		n int
	}{{Q8_0, 33}, {Q4_K, 128}, {Type(4), 1}, {F32, -1}} {
		if _, err := bad.t.RowSize(bad.n); err == nil {
			t.Errorf("%v.RowSize(%d): no error", bad.t, bad.n)
		}
	}
	if Type(5).Known() || Type(5).String() != "type(5)" {
		t.Errorf("type 5: %v", Type(5))
	}
	// TinyLlama's token embedding in Q8_0: 32000 rows of 2048.
	if n, err := Q8_0.TensorSize([]uint64{2048, 32000}); err != nil || n != 32000*64*34 {
		t.Errorf("TensorSize = %d, %v", n, err)
	}
}
