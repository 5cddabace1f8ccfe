//go:build race

package main

// raceEnabled: the race detector slows everything several times (the map's
// browser test allows the alert more time under it).
const raceEnabled = true
