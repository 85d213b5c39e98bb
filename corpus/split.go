package corpus

import (
	"fmt"
	"hash/fnv"
)

// Split selects documents by a hash of their identifier, so membership never
// depends on reading order, shuffling or which other files are present.
type Split int

const (
	Train   Split = iota // documents not held out (the zero value)
	HeldOut              // the held-out fraction, for evaluation
	All                  // every document
)

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case HeldOut:
		return "heldout"
	case All:
		return "all"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// ParseSplit is the inverse of Split.String.
func ParseSplit(name string) (Split, error) {
	for _, s := range []Split{Train, HeldOut, All} {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("corpus: unknown split %q (want train, heldout or all)", name)
}

func (s Split) contains(id string, heldOut float64) bool {
	switch s {
	case Train:
		return !IsHeldOut(id, heldOut)
	case HeldOut:
		return IsHeldOut(id, heldOut)
	}
	return true
}

// IsHeldOut reports whether the document with this identifier is in the
// held-out split when fraction of documents are held out: a uniform number
// in [0, 1) derived from the FNV-1a hash of the id is below fraction.
func IsHeldOut(id string, fraction float64) bool {
	h := fnv.New64a()
	h.Write([]byte(id))
	// FNV alone leaves ids differing in their last digit close together;
	// the splitmix64 finaliser spreads them over the whole range.
	u := float64(mix64(h.Sum64())>>11) / (1 << 53)
	return u < fraction
}

// mix64 is splitmix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
