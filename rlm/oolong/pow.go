package oolong

import (
	"math"
	"math/big"
	"sync"
)

// The official scorer gives an integer answer 0.75 ** abs(gold - pred)
// points. CPython evaluates that with the C library's pow(), which on Linux
// (glibc) is accurate to about half an ulp, not correctly rounded; Go's
// math.Pow differs from it in the last bit for more than half of the
// exponents that matter. So the powers are computed here exactly (3^n / 4^n
// rounded once to the nearest float64), and the few exponents where glibc
// rounds the other way are listed.

// powerZeroFrom is the smallest n for which 0.75**n is 0.0 in float64
// arithmetic: every larger difference scores 0.
const powerZeroFrom = 2591

// glibcPowers holds the bit patterns of 0.75**n where glibc 2.36's pow()
// (x86-64, FMA path, the one CPython uses there) differs from the correctly
// rounded value, by one ulp each. 3**34 / 4**34 lies exactly halfway between
// two float64s; glibc rounds it up where round-half-to-even rounds down.
var glibcPowers = map[int]uint64{
	34:   0x3f0d9fe779881945,
	61:   0x3e59aeb6ecc6cc90,
	631:  0x2f91489ecf0691a4,
	997:  0x261279f68ef0205a,
	2382: 0x0224d4cc0d8ff13c,
}

// powers returns the table 0.75**n for n in [0, powerZeroFrom).
var powers = sync.OnceValue(func() []float64 {
	table := make([]float64, powerZeroFrom)
	pow3 := big.NewInt(1)
	three := big.NewInt(3)
	for n := range table {
		if bits, ok := glibcPowers[n]; ok {
			table[n] = math.Float64frombits(bits)
		} else {
			f := new(big.Float).SetInt(pow3) // exact: a zero Float takes pow3's precision
			f.SetMantExp(f, -2*n)
			table[n], _ = f.Float64() // the nearest float64, subnormals included
		}
		pow3.Mul(pow3, three)
	}
	return table
})

// intScore is the official score of an integer answer off by diff (≥ 0):
// 0.75 ** diff. Python raises OverflowError where diff does not fit a
// float64 (2**1024 and beyond); the score is 0 there, the limit it tends to.
func intScore(diff *big.Int) float64 {
	if !diff.IsInt64() || diff.Int64() >= powerZeroFrom {
		return 0
	}
	return powers()[diff.Int64()]
}
