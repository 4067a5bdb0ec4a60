//go:build linux

package faults

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// result is one scenario's row of the suite's table.
type result struct {
	scenario   string
	faults     string
	committed  int           // transfers acknowledged as committed
	blocks     uint64        // committed height all honest nodes reached
	recovery   time.Duration // heal to progress of every honest node; 0 if no heal
	violations []string
	notes      []string
	took       time.Duration
}

func (r *result) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

func (r *result) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// checker verifies a scenario's outcome on the honest nodes.
type checker struct {
	c      *cluster
	w      *workload
	r      *result
	honest []int
	// proven, if not negative, is a validator that equivocates: every
	// honest node must hold evidence against it by the end.
	proven int
}

// run checks, once the workload has stopped and the network is healed:
//   - every honest node commits past the highest acknowledged transfer;
//   - the honest nodes hold identical blocks at every common height, which
//     chain by parent hash and each carry a quorum certificate for itself;
//   - every transfer acknowledged as committed is in the chain exactly
//     once, at the height it was acknowledged at, and no transaction is in
//     it twice;
//   - on every honest node the accounts hold the genesis supply, and,
//     when every transfer is final, exactly what the committed transfers
//     leave (balances and nonces);
//   - no honest node holds evidence against an honest validator.
func (k *checker) run() {
	txs := k.w.snapshot()
	var top uint64
	inFlight := 0
	for _, tr := range txs {
		switch tr.status {
		case "committed":
			k.r.committed++
			top = max(top, tr.height)
		case "":
			inFlight++
		}
	}
	if inFlight > 0 {
		k.r.note("%d transfers still in flight at the end (not acknowledged; not counted)", inFlight)
	}
	if ok, detail := k.c.waitHeight(k.honest, top+1, 30*time.Second); !ok {
		k.r.violate("honest nodes did not all reach height %d (past the last acknowledged transfer) within 30 s: %s", top+1, detail)
		return
	}
	hs, err := k.c.heights(k.honest)
	if err != nil {
		k.r.violate("reading the honest nodes' heights: %v", err)
		return
	}
	final := slices.Min(hs)
	k.r.blocks = final
	chain := k.agreement(final)
	if chain == nil {
		return
	}
	k.exactlyOnce(chain, txs)
	k.supply(txs, inFlight == 0)
	k.evidence(ledRounds(chain, k.proven))
}

// agreement fetches blocks 1..upTo from every honest node and compares
// them; it returns the common chain, or nil after a violation that makes
// further checks meaningless.
func (k *checker) agreement(upTo uint64) []blockView {
	var ref []blockView
	quorum := 2*((len(k.c.nodes)-1)/3) + 1
	for _, i := range k.honest {
		bs, err := k.c.blocks(i, 1, upTo)
		if err != nil {
			k.r.violate("node %d: blocks 1..%d: %v", i, upTo, err)
			return nil
		}
		if uint64(len(bs)) != upTo {
			k.r.violate("node %d: %d blocks for heights 1..%d", i, len(bs), upTo)
			return nil
		}
		bad := 0
		for n, b := range bs {
			var why string
			switch {
			case b.Height != uint64(n+1):
				why = fmt.Sprintf("block %d of the range has height %d", n+1, b.Height)
			case n > 0 && b.ParentHash != bs[n-1].Hash:
				why = fmt.Sprintf("block %d's parent_hash %s is not block %d's hash %s", b.Height, b.ParentHash, n, bs[n-1].Hash)
			case b.QC.BlockHash != b.Hash:
				why = fmt.Sprintf("block %d's qc.block_hash %s is not its hash %s", b.Height, b.QC.BlockHash, b.Hash)
			case !validSigners(b.QC.Signers, len(k.c.nodes), quorum):
				why = fmt.Sprintf("block %d's QC has signers %v, not a quorum of %d distinct validators", b.Height, b.QC.Signers, quorum)
			}
			if why != "" {
				if bad++; bad <= 3 {
					k.r.violate("node %d: %s", i, why)
				}
			}
		}
		if ref == nil {
			ref = bs
			continue
		}
		for n := range bs {
			if bs[n].Hash != ref[n].Hash {
				k.r.violate("SAFETY: nodes %d and %d hold different blocks at height %d: %s vs %s", k.honest[0], i, n+1, ref[n].Hash, bs[n].Hash)
				return nil
			}
			if strings.Join(bs[n].Txs, ",") != strings.Join(ref[n].Txs, ",") {
				k.r.violate("nodes %d and %d hold block %d with one hash but different transactions", k.honest[0], i, n+1)
				return nil
			}
		}
	}
	return ref
}

func validSigners(s []uint32, n, quorum int) bool {
	seen := map[uint32]bool{}
	for _, x := range s {
		if int(x) >= n || seen[x] {
			return false
		}
		seen[x] = true
	}
	return len(seen) >= quorum
}

// exactlyOnce checks every acknowledged transfer against the chain and
// against every honest node's transaction index. A transaction may be
// carried by a later block again only if a Byzantine validator proposed
// that block: nodes record such a copy as a rejected duplicate (see
// docs/ledger.md, "Exactly once") and never execute it, and honest leaders
// skip what is already committed. The balances and nonces (supply) check
// that each transfer was executed once.
func (k *checker) exactlyOnce(chain []blockView, txs []transfer) {
	idx := map[string][]uint64{}
	for _, b := range chain {
		for _, h := range b.Txs {
			idx[h] = append(idx[h], b.Height)
		}
	}
	ours := map[string]bool{}
	for _, tr := range txs {
		ours[tr.hash] = true
	}
	honest := map[uint32]bool{}
	for _, i := range k.honest {
		honest[uint32(i)] = true
	}
	honestDups, byzDups, byzDupsOurs, unknown, bad := 0, 0, 0, 0, 0
	for h, at := range idx {
		if !ours[h] {
			unknown++
		}
		for _, x := range at[1:] {
			b := chain[x-1]
			if !honest[b.Proposer] {
				byzDups++
				if ours[h] {
					byzDupsOurs++
				}
				continue
			}
			if honestDups++; honestDups <= 5 {
				k.r.violate("tx %s (sent by the workload: %v), first committed at height %d, is carried again by block %d, proposed by the honest validator %d",
					h, ours[h], at[0], x, b.Proposer)
			}
		}
	}
	if honestDups > 5 {
		k.r.violate("%d copies in all of committed transactions in blocks of honest proposers", honestDups)
	}
	if byzDups > 0 {
		k.r.note("%d copies of already committed entries (%d of them workload transfers) in blocks proposed by the Byzantine validator; "+
			"each honest node's record of them is still their first commit", byzDups, byzDupsOurs)
	}
	if unknown > 0 {
		k.r.note("%d committed payload entries were not sent by the workload (evidence records, a Byzantine leader's own entries)", unknown)
	}
	for _, tr := range txs {
		if tr.status != "committed" {
			continue
		}
		if at := idx[tr.hash]; len(at) == 0 || at[0] != tr.height {
			if bad++; bad <= 5 {
				k.r.violate("%s was acknowledged committed at height %d by node %d; the chain has it at %v", &tr, tr.height, tr.ackNode, at)
			}
		}
	}
	if bad > 5 {
		k.r.violate("%d acknowledged transfers in all are not in the chain where acknowledged", bad)
	}
	// Every honest node says so too: for a sample, to keep the check
	// short, and for every transfer a later block carried again (its
	// record must still be the first, executed, commit).
	bad = 0
	for n, tr := range txs {
		if tr.status != "committed" || (n%3 != 0 && len(idx[tr.hash]) < 2) {
			continue
		}
		for _, i := range k.honest {
			var v struct {
				Status string  `json:"status"`
				Height *uint64 `json:"height"`
			}
			_, err := k.c.getJSON(k.c.api(i)+"/v1/txs/"+tr.hash, &v)
			if err != nil || v.Status != "committed" || v.Height == nil || *v.Height != tr.height {
				if bad++; bad <= 5 {
					k.r.violate("node %d: GET /v1/txs/%s answers %+v (%v); the transfer was acknowledged committed at height %d", i, tr.hash, v, err, tr.height)
				}
			}
		}
	}
	if bad > 5 {
		k.r.violate("%d honest answers in all disagree with acknowledged commits", bad)
	}
}

type accountView struct {
	Address      string `json:"address"`
	Balance      uint64 `json:"balance"`
	Nonce        uint64 `json:"nonce"`
	PendingNonce uint64 `json:"pending_nonce"`
}

// supply checks the accounts on every honest node. The accounts are read
// one request at a time, so a node's view is taken twice and used only
// when both reads agree (no transfer committed in between).
func (k *checker) supply(txs []transfer, final bool) {
	w := k.w
	balance := make([]int64, len(w.addrs))
	nonce := make([]uint64, len(w.addrs))
	for a := range demoAccounts {
		balance[a] = demoFunds
	}
	for _, tr := range txs {
		if tr.status == "committed" {
			balance[tr.from] -= int64(tr.amount)
			balance[tr.to] += int64(tr.amount)
			nonce[tr.from]++
		}
	}
	for _, i := range k.honest {
		var view []accountView
		ok, detail := waitFor(10*time.Second, func() (bool, string) {
			a, err := k.accounts(i)
			if err != nil {
				return false, err.Error()
			}
			b, err := k.accounts(i)
			if err != nil {
				return false, err.Error()
			}
			view = b
			return slices.Equal(a, b), "accounts kept changing between two reads"
		})
		if !ok {
			k.r.violate("node %d: no stable view of the accounts: %s", i, detail)
			continue
		}
		var sum uint64
		for _, a := range view {
			sum += a.Balance
		}
		if sum != demoAccounts*demoFunds {
			k.r.violate("node %d: the %d accounts hold %d in all, not the genesis supply %d", i, len(view), sum, demoAccounts*demoFunds)
		}
		if !final {
			continue
		}
		wrong := 0
		for a, v := range view {
			if int64(v.Balance) != balance[a] || v.Nonce != nonce[a] {
				if wrong++; wrong <= 3 {
					k.r.violate("node %d: account %d holds %d with nonce %d; the acknowledged transfers leave %d with nonce %d",
						i, a, v.Balance, v.Nonce, balance[a], nonce[a])
				}
			}
		}
	}
}

func (k *checker) accounts(i int) ([]accountView, error) {
	out := make([]accountView, len(k.w.addrs))
	for a, addr := range k.w.addrs {
		if _, err := k.c.getJSON(k.c.api(i)+"/v1/accounts/"+addr.String(), &out[a]); err != nil {
			return nil, err
		}
		if out[a].Address != addr.String() {
			return nil, fmt.Errorf("GET /v1/accounts/%s answers address %q", addr, out[a].Address)
		}
	}
	return out, nil
}

// ledRounds counts the rounds validator v led on the chain: the blocks it
// proposed and the rounds it failed in as leader.
func ledRounds(chain []blockView, v int) int {
	n := 0
	for _, b := range chain {
		if int(b.Proposer) == v {
			n++
		}
		for _, f := range b.FailedLeaders {
			if int(f) == v {
				n++
			}
		}
	}
	return n
}

// evidence checks that no honest node accuses an honest validator, and
// notes what the honest nodes proved against the Byzantine ones. An
// equivocator must be proven if it led any round (led, from the chain); a
// leader rule that never let it lead left it nothing to equivocate with.
func (k *checker) evidence(led int) {
	honest := map[int]bool{}
	for _, i := range k.honest {
		honest[i] = true
	}
	if k.proven >= 0 && led == 0 {
		k.r.note("the equivocator %d led no round on the chain: nothing to prove", k.proven)
	}
	var proven []string
	for _, i := range k.honest {
		against := 0
		var ev struct {
			Evidence []struct {
				Validator int    `json:"validator"`
				Kind      string `json:"kind"`
				Height    uint64 `json:"height"`
				Round     uint64 `json:"round"`
				OnLedger  bool   `json:"on_ledger"`
			} `json:"evidence"`
		}
		code, err := k.c.getJSON(k.c.api(i)+"/v1/evidence", &ev)
		if code == http.StatusNotFound {
			return
		}
		if err != nil {
			k.r.violate("node %d: GET /v1/evidence: %v", i, err)
			continue
		}
		kinds := map[string]int{}
		for _, e := range ev.Evidence {
			if honest[e.Validator] {
				k.r.violate("node %d holds %s evidence against the honest validator %d (height %d round %d)",
					i, e.Kind, e.Validator, e.Height, e.Round)
				continue
			}
			ledger := ""
			if e.OnLedger {
				ledger = ", on the ledger"
			}
			kinds[fmt.Sprintf("%s by %d%s", e.Kind, e.Validator, ledger)]++
			if e.Validator == k.proven {
				against++
			}
		}
		if k.proven >= 0 && against == 0 && led > 0 {
			k.r.violate("node %d holds no evidence against validator %d, which equivocated throughout the scenario", i, k.proven)
		}
		if len(kinds) > 0 {
			var parts []string
			for kind, n := range kinds {
				parts = append(parts, fmt.Sprintf("%d %s", n, kind))
			}
			slices.Sort(parts)
			proven = append(proven, fmt.Sprintf("node %d: %s", i, strings.Join(parts, ", ")))
		}
	}
	if len(proven) > 0 {
		k.r.note("evidence: %s", strings.Join(proven, "; "))
	}
}
