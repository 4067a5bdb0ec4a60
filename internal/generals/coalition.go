package generals

import "slices"

// coalition is everything the traitors of an SM run share: their own private
// keys (and no one else's) and the valid orders any of them has received.
// Adversaries build every message through it, so a traitor can relay, sign
// or tamper with orders but can never make a loyal general's signature.
type coalition struct {
	keys    *keyring
	traitor []bool
	n       int
	order   Value // the commander's (nominal) order
	lts     []int // the traitor lieutenants, ascending
	held    []signedOrder
	has     [][2]bool    // has[t][v]: traitor t holds a valid order for v
	fresh   [][]received // fresh[r]: orders new to their traitor receiver in round r
}

type received struct {
	by int
	o  signedOrder
}

func newCoalition(keys *keyring, traitor []bool, order Value) *coalition {
	c := &coalition{keys: keys, traitor: traitor, n: len(traitor), order: order, has: make([][2]bool, len(traitor))}
	for id := 1; id < len(traitor); id++ {
		if traitor[id] {
			c.lts = append(c.lts, id)
		}
	}
	return c
}

// receive records a valid order o that traitor t received in round r.
func (c *coalition) receive(t, r int, o signedOrder) {
	c.held = append(c.held, o)
	for len(c.fresh) <= r {
		c.fresh = append(c.fresh, nil)
	}
	if !c.has[t][o.value] {
		c.has[t][o.value] = true
		c.fresh[r] = append(c.fresh[r], received{by: t, o: o})
	}
}

// freshIn returns the orders that were new to their traitor receiver in
// round r, in arrival order.
func (c *coalition) freshIn(r int) []received {
	if r < len(c.fresh) {
		return c.fresh[r]
	}
	return nil
}

// commanderOrder returns the commander's signed order for v; ok is false
// unless the commander is a traitor (a loyal commander's signature cannot be
// made by the coalition).
func (c *coalition) commanderOrder(v Value) (signedOrder, bool) {
	if !c.traitor[0] {
		return signedOrder{}, false
	}
	o := signedOrder{value: v, signers: []int{0}, sigs: [][]byte{nil}}
	o.sigs[0] = c.keys.signLink(v, o.signers, o.sigs, 0)
	return o, true
}

// relay returns o signed by traitor t, ready for t to send on. The
// coalition has no key for a loyal t: it then returns o unsigned by t, which
// any receiver rejects because its last signer is not the sender.
func (c *coalition) relay(o signedOrder, t int) signedOrder {
	if !c.traitor[t] {
		return o
	}
	return c.keys.extend(o, t)
}

// retag returns o with its value replaced by v: the links of traitors are
// signed again, the links of loyal generals keep their old signatures,
// which no longer verify. A tampered order therefore survives only if
// every signer in it is a traitor.
func (c *coalition) retag(o signedOrder, v Value) signedOrder {
	if o.value == v {
		return o
	}
	out := signedOrder{value: v, signers: append([]int(nil), o.signers...), sigs: make([][]byte, len(o.sigs))}
	for k, s := range out.signers {
		if c.traitor[s] {
			out.sigs[k] = c.keys.signLink(v, out.signers, out.sigs, k)
		} else {
			out.sigs[k] = o.sigs[k]
		}
	}
	return out
}

// build returns a valid order for v with exactly r signatures whose last
// signer is a traitor, so that this traitor can send it in round r; ok is
// false when the coalition cannot make one. It starts from the commander's
// order if the commander is a traitor, or else from a valid order for v
// that a traitor received, and appends the signatures of traitor
// lieutenants not yet in the chain, in increasing id order.
func (c *coalition) build(v Value, r int) (signedOrder, bool) {
	if o, ok := c.commanderOrder(v); ok {
		if out, ok := c.complete(o, r); ok {
			return out, true
		}
	}
	for _, o := range c.held {
		if o.value == v {
			if out, ok := c.complete(o, r); ok {
				return out, true
			}
		}
	}
	return signedOrder{}, false
}

// complete appends traitor lieutenants' signatures to the valid order base
// until it has r of them, the last a traitor's.
func (c *coalition) complete(base signedOrder, r int) (signedOrder, bool) {
	need := r - len(base.signers)
	free := 0
	for _, t := range c.lts {
		if !slices.Contains(base.signers, t) {
			free++
		}
	}
	if need < 0 || need > free || (need == 0 && !c.traitor[base.signers[len(base.signers)-1]]) {
		return signedOrder{}, false
	}
	o := base
	for _, t := range c.lts {
		if need == 0 {
			break
		}
		if !slices.Contains(base.signers, t) {
			o = c.relay(o, t)
			need--
		}
	}
	return o, true
}
