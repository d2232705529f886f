//go:build race

package agenthost

const raceEnabled = true
