//go:build !race

package query

const customsRace = false
