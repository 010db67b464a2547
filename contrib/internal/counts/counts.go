// Package counts formats verdict and change counts for the load tool and
// the benchmark tables alike.
package counts

import (
	"fmt"
	"sort"
	"strings"
)

// Sorted renders m as "key count, key count", the largest count first
// (ties by key); "none" when m is empty.
func Sorted(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
