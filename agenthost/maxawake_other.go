//go:build !unix

package agenthost

func defaultMaxAwake() int { return 1000 }
