//go:build unix

package agenthost

import "syscall"

// defaultMaxAwake leaves a quarter of the open-file limit (and at least
// 1024 files) for connections and the rest, three files per awake agent.
func defaultMaxAwake() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 1000
	}
	cur := int64(min(lim.Cur, 1<<30))
	n := (cur - max(cur/4, 1024)) / 3
	return int(min(max(n, 16), 10000))
}
