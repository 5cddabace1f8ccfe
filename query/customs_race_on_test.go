//go:build race

package query

// customsRace: sync.Pool drops items at random under -race, so allocation
// counts are not meaningful there.
const customsRace = true
