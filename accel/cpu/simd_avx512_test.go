//go:build amd64 && !purego

package cpu

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestBestChoosesAVX512: Best and BestF32Act are the AVX-512 set exactly
// when the CPU has AVX-512 F, BW and VL (and the AVX2 base), unless
// GODEBUG turned AVX-512 off.
func TestBestChoosesAVX512(t *testing.T) {
	want := "scalar"
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		want = "avx2"
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL {
			want = "avx512"
		}
	}
	if got := Best().Name; got != want {
		t.Fatalf("Best is %q, want %q", got, want)
	}
	if want == "scalar" {
		return
	}
	if got := BestF32Act().Name; got != want+"-f32act" {
		t.Fatalf("BestF32Act is %q, want %q", got, want+"-f32act")
	}
}

// TestArchSets: both assembly sets are under test where the CPU has
// AVX-512, the AVX-512 one last (Best's), with its own Q8_0 tile.
func TestArchSets(t *testing.T) {
	sets := archSets()
	var names []string
	for _, s := range sets {
		names = append(names, s.name)
	}
	t.Logf("assembly sets: %v", names)
	if !hasAVX512 {
		if len(sets) > 1 {
			t.Fatalf("sets %v without AVX-512", names)
		}
		return
	}
	if len(sets) != 2 || sets[0].name != "avx2" || sets[1].name != "avx512" {
		t.Fatalf("sets %v, want [avx2 avx512]", names)
	}
	z := sets[1]
	if z.q8Tile == nil || z.dotQ8F32R4 == nil || z.q8TileRows != 4 || z.q8TileToks != 4 {
		t.Fatal("the AVX-512 set's Q8_0 float family is not its own")
	}
}
