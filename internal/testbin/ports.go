package testbin

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// FreePorts returns base such that ports base..base+n-1 are free on
// 127.0.0.1, drawn below Linux's ephemeral range (32768 and up) so that no
// outgoing connection takes one between the probe and the bind.
func FreePorts(n int) (int, error) {
	for range 200 {
		base := 20000 + rand.IntN(12000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if ok = err == nil; ok {
				ln.Close()
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free ports")
}
