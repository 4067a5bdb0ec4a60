//go:build linux

package faults

import (
	be "encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// vswitch is a learning Ethernet switch between the ports of the hub
// namespace, run by the test process. Each port is a packet socket bound
// to one interface: a frame read on port a is forwarded to the port that
// owns its destination address (every other port for broadcasts and
// unknown addresses) through the directed link a->b, which applies that
// link's policy: cut (drop all), loss (drop at random), delay with
// jitter (frames keep their order on a link).
//
// The sockets use PACKET_VNET_HDR, so a frame travels with its
// segmentation and checksum-offload metadata and the receiving kernel
// finishes it exactly as it would have on a plain veth pair.
type vswitch struct {
	ports []*swport
	links [][]*swlink // [src][dst]
	stop  chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	macs map[[6]byte]int
	pol  [][]policy

	forwarded, dropped atomic.Int64
}

// summary describes the traffic: frames forwarded and dropped, and how
// many each port sent.
func (sw *vswitch) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d frames forwarded, %d dropped; received from", sw.forwarded.Load(), sw.dropped.Load())
	for _, p := range sw.ports {
		fmt.Fprintf(&b, " %s %d (%.1f MB)", p.name, p.frames.Load(), float64(p.bytes.Load())/1e6)
	}
	return b.String()
}

// policy is what a directed link does to the frames it carries.
type policy struct {
	cut    bool
	loss   float64 // probability of dropping a frame
	delay  time.Duration
	jitter time.Duration // uniform in [-jitter, +jitter]
}

type swport struct {
	index  int
	name   string
	f      *os.File
	rng    *rand.Rand   // only the port's reader uses it
	frames atomic.Int64 // frames received on this port
	bytes  atomic.Int64 // and their bytes
}

type swlink struct {
	out  *swport
	wake chan struct{}

	mu   sync.Mutex
	q    []frame
	last time.Time // release time of the last frame queued
}

type frame struct {
	at   time.Time
	data []byte // virtio-net header and Ethernet frame
}

const (
	vnetHdrLen      = 10
	solPacket       = 263
	packetVnetHdr   = 15
	packetIgnoreOut = 23
	maxQueue        = 5000 // frames per link, like netem's limit
)

// newSwitch opens one packet socket per named interface of namespace ns
// and starts forwarding.
func newSwitch(ns string, names []string) (*vswitch, error) {
	sw := &vswitch{stop: make(chan struct{}), macs: map[[6]byte]int{}}
	err := inNetns(ns, func() error {
		for k, name := range names {
			f, err := openPacketSocket(name)
			if err != nil {
				return err
			}
			sw.ports = append(sw.ports, &swport{index: k, name: name, f: f, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(k)))})
		}
		return nil
	})
	if err != nil {
		for _, p := range sw.ports {
			p.f.Close()
		}
		return nil, err
	}
	n := len(sw.ports)
	sw.pol = make([][]policy, n)
	sw.links = make([][]*swlink, n)
	for a := range n {
		sw.pol[a] = make([]policy, n)
		sw.links[a] = make([]*swlink, n)
		for b := range n {
			if a == b {
				continue
			}
			l := &swlink{out: sw.ports[b], wake: make(chan struct{}, 1)}
			sw.links[a][b] = l
			sw.wg.Go(func() { sw.deliver(l) })
		}
	}
	for _, p := range sw.ports {
		sw.wg.Go(func() { sw.read(p) })
	}
	return sw, nil
}

func openPacketSocket(name string) (*os.File, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	proto := int(htons(syscall.ETH_P_ALL))
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	for _, opt := range []int{packetVnetHdr, packetIgnoreOut} {
		if err := syscall.SetsockoptInt(fd, solPacket, opt, 1); err != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("packet socket option %d: %w", opt, err)
		}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind packet socket to %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "packet:"+name), nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// update changes the policy of every directed link: fn sees each and may
// change it. Port indices are those of newSwitch's names.
func (sw *vswitch) update(fn func(src, dst int, p *policy)) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for a := range sw.pol {
		for b := range sw.pol[a] {
			if a != b {
				fn(a, b, &sw.pol[a][b])
			}
		}
	}
}

func (sw *vswitch) close() {
	select {
	case <-sw.stop:
		return
	default:
	}
	close(sw.stop)
	for _, p := range sw.ports {
		p.f.Close()
	}
	sw.wg.Wait()
}

// read forwards every frame that arrives on port p.
func (sw *vswitch) read(p *swport) {
	buf := make([]byte, vnetHdrLen+65536+64)
	for {
		n, err := p.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// ENETDOWN once when the port's link goes down (isolation);
			// the socket rebinds itself when it comes back up.
			select {
			case <-sw.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if n < vnetHdrLen+14 {
			continue
		}
		p.frames.Add(1)
		p.bytes.Add(int64(n - vnetHdrLen))
		eth := buf[vnetHdrLen:n]
		switch be.BigEndian.Uint16(eth[12:14]) {
		case 0x0800, 0x0806: // IPv4, ARP
		default:
			continue // IPv6 neighbour discovery and the like: not part of the lab
		}
		var dst, src [6]byte
		copy(dst[:], eth[0:6])
		copy(src[:], eth[6:12])
		now := time.Now()
		sw.mu.Lock()
		sw.macs[src] = p.index
		to, known := sw.macs[dst]
		if dst[0]&1 != 0 {
			known = false // broadcast or multicast
		}
		for b := range sw.ports {
			if b == p.index || (known && b != to) {
				continue
			}
			pol := sw.pol[p.index][b]
			if pol.cut || (pol.loss > 0 && p.rng.Float64() < pol.loss) {
				sw.dropped.Add(1)
				continue
			}
			at := now.Add(pol.delay)
			if pol.jitter > 0 {
				at = at.Add(time.Duration(p.rng.Int64N(int64(2*pol.jitter+1))) - pol.jitter)
			}
			sw.links[p.index][b].enqueue(at, append([]byte(nil), buf[:n]...), &sw.dropped)
		}
		sw.mu.Unlock()
	}
}

func (l *swlink) enqueue(at time.Time, data []byte, dropped *atomic.Int64) {
	l.mu.Lock()
	if len(l.q) >= maxQueue {
		l.mu.Unlock()
		dropped.Add(1)
		return
	}
	if at.Before(l.last) {
		at = l.last // frames keep their order on a link
	}
	l.last = at
	l.q = append(l.q, frame{at: at, data: data})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// deliver writes the frames of link l to its port when they are due.
func (sw *vswitch) deliver(l *swlink) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		if len(l.q) == 0 {
			l.mu.Unlock()
			select {
			case <-l.wake:
				continue
			case <-sw.stop:
				return
			}
		}
		head := l.q[0]
		if wait := time.Until(head.at); wait > 0 {
			l.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.wake:
				timer.Stop() // Go 1.23 timers: no stale value to drain
			case <-sw.stop:
				return
			}
			continue
		}
		l.q[0] = frame{}
		l.q = l.q[1:]
		l.mu.Unlock()
		if _, err := l.out.f.Write(head.data); err != nil {
			// The port's link is down (an isolated host), or gone.
			sw.dropped.Add(1)
			continue
		}
		sw.forwarded.Add(1)
	}
}
