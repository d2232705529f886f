// Package archtest holds the test that keeps DESIGN.md's import directions:
// the four stages (broker, protocol, agenthost, accel) do not import one
// another, except agenthost importing accel; only cmd/outpost wires them
// together; codecs is a leaf; mochi types stay inside broker.
package archtest
