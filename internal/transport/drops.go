package transport

import (
	"errors"
	"fmt"
)

// DropReason says why a frame given to Send or Broadcast was not queued, or
// was removed from its queue before being written.
type DropReason uint8

// The drop reasons.
const (
	// DropOversize: the frame is larger than MaxFrame. The caller built a
	// frame that can never be sent, which is a bug on its side.
	DropOversize DropReason = iota
	// DropQueueFull: the peer is connected but its queue of the class is
	// full (in frames or in bytes). For Sync and Gossip the new frame is
	// refused; for Consensus the oldest queued frames are dropped instead.
	DropQueueFull
	// DropPeerDown: as DropQueueFull, while no outbound connection to the
	// peer is up.
	DropPeerDown
	// DropStopping: the transport is stopping.
	DropStopping

	// NumDropReasons is the number of drop reasons; per-reason counters are
	// arrays of this length.
	NumDropReasons = int(DropStopping) + 1
)

// String returns the reason's metric label.
func (r DropReason) String() string {
	switch r {
	case DropOversize:
		return "oversize"
	case DropQueueFull:
		return "queue_full"
	case DropPeerDown:
		return "peer_down"
	case DropStopping:
		return "stopping"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// DropError is the error Send and Broadcast return for a frame that was
// not queued. Compare with errors.Is against the Err values below.
type DropError struct{ Reason DropReason }

func (e *DropError) Error() string {
	switch e.Reason {
	case DropOversize:
		return "transport: frame larger than MaxFrame"
	case DropQueueFull:
		return "transport: outbound queue full"
	case DropPeerDown:
		return "transport: peer down and its outbound queue full"
	case DropStopping:
		return "transport: stopping"
	}
	return "transport: frame dropped: " + e.Reason.String()
}

// Is makes errors.Is compare drop errors by reason.
func (e *DropError) Is(target error) bool {
	t, ok := target.(*DropError)
	return ok && t.Reason == e.Reason
}

// The errors of Send and Broadcast.
var (
	ErrOversize     error = &DropError{DropOversize}
	ErrQueueFull    error = &DropError{DropQueueFull}
	ErrPeerDown     error = &DropError{DropPeerDown}
	ErrStopping     error = &DropError{DropStopping}
	ErrUnknownPeer        = errors.New("transport: not a peer (self or an unknown index)")
	ErrUnknownClass       = errors.New("transport: unknown class")
)

var dropErrors = [NumDropReasons]error{ErrOversize, ErrQueueFull, ErrPeerDown, ErrStopping}

// Reason returns the metric label of an error of Send or Broadcast: the
// drop reason, "unknown_peer", "unknown_class", or "" for nil. An error of
// Broadcast that holds several reasons gives the first.
func Reason(err error) string {
	var d *DropError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &d):
		return d.Reason.String()
	case errors.Is(err, ErrUnknownPeer):
		return "unknown_peer"
	case errors.Is(err, ErrUnknownClass):
		return "unknown_class"
	}
	return "other"
}
