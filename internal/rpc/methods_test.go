package rpc

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"

	"github.com/strategos/strategos/internal/chain"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// upperHex is how CometBFT writes a hash.
func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func TestHealth(t *testing.T) {
	_, url := serve(t, newFake(t, 4), Config{})
	sameJSON(t, "health", call(t, url, "health", nil), &ctypes.ResultHealth{})
}

func TestStatus(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	b1, h1 := f.commit([]byte("a=1"))
	f.commit()
	b3, h3 := f.commit([]byte("b=2"))
	got := result[ctypes.ResultStatus](t, call(t, url, "status", nil))
	self := cmted25519.PubKey(f.ch.PubKey)
	want := ctypes.ResultStatus{
		NodeInfo: p2p.DefaultNodeInfo{
			ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, 3),
			DefaultNodeID:   p2p.ID(hex.EncodeToString(self.Address())),
			ListenAddr:      "127.0.0.1:26600", Network: fakeChain, Version: "0.38.25+strategos",
			Moniker: "strategos-validator-0",
			Other:   p2p.DefaultNodeInfoOther{TxIndex: "on", RPCAddress: "tcp://127.0.0.1:26657"},
		},
		SyncInfo: ctypes.SyncInfo{
			LatestBlockHash: h3[:], LatestAppHash: b3.StateRoot[:], LatestBlockHeight: 3, LatestBlockTime: time.Unix(0, b3.Time).UTC(),
			EarliestBlockHash: h1[:], EarliestAppHash: b1.StateRoot[:], EarliestBlockHeight: 1, EarliestBlockTime: time.Unix(0, b1.Time).UTC(),
		},
		ValidatorInfo: ctypes.ValidatorInfo{Address: self.Address(), PubKey: self, VotingPower: 1},
	}
	sameJSON(t, "status", call(t, url, "status", nil), &want)
	if got.SyncInfo.LatestBlockHeight != 3 || got.NodeInfo.Network != fakeChain {
		t.Errorf("status %+v", got.SyncInfo)
	}
	// The JSON itself: 64-bit numbers as strings, hashes upper-case hex.
	raw := string(call(t, url, "status", nil))
	for _, want := range []string{`"latest_block_height":"3"`, `"latest_block_hash":"` + upperHex(h3[:]) + `"`, `"voting_power":"1"`,
		`"pub_key":{"type":"tendermint/PubKeyEd25519","value":"` + b64(f.ch.PubKey) + `"}`} {
		if !strings.Contains(raw, want) {
			t.Errorf("status does not hold %s: %s", want, raw)
		}
	}
}

func TestStatusBeforeTheFirstBlock(t *testing.T) {
	_, url := serve(t, newFake(t, 1), Config{})
	got := result[ctypes.ResultStatus](t, call(t, url, "status", nil))
	if got.SyncInfo.LatestBlockHeight != 0 || len(got.SyncInfo.LatestBlockHash) != 0 {
		t.Errorf("sync info %+v, want height 0", got.SyncInfo)
	}
}

func TestNetInfo(t *testing.T) {
	f := newFake(t, 4)
	f.links = []Link{{Validator: 1, Out: true, In: true}, {Validator: 2}, {Validator: 3, In: true}}
	_, url := serve(t, f, Config{})
	got := result[ctypes.ResultNetInfo](t, call(t, url, "net_info", nil))
	if !got.Listening || got.NPeers != 2 || len(got.Peers) != 2 {
		t.Fatalf("net_info %+v, want 2 peers (validators 1 and 3)", got)
	}
	p := got.Peers[0]
	if !p.IsOutbound || p.RemoteIP != "127.0.0.1" || p.NodeInfo.ListenAddr != "127.0.0.1:26601" ||
		string(p.NodeInfo.DefaultNodeID) != hex.EncodeToString(cmted25519.PubKey(f.ch.Validators.Get(1).PubKey).Address()) {
		t.Errorf("peer 1: %+v", p)
	}
	if got.Peers[1].IsOutbound || got.Peers[1].NodeInfo.Moniker != "strategos-validator-3" {
		t.Errorf("peer 3: %+v", got.Peers[1])
	}
}

func TestGenesis(t *testing.T) {
	f := newFake(t, 4)
	f.ch.Genesis.AppState = []byte(`{"k":"v"}`)
	_, url := serve(t, f, Config{})
	got := result[ctypes.ResultGenesis](t, call(t, url, "genesis", nil)).Genesis
	if got.ChainID != fakeChain || !got.GenesisTime.Equal(fakeGenesisTime) || got.InitialHeight != 1 || len(got.Validators) != 4 ||
		string(got.AppState) != `{"k":"v"}` || got.ConsensusParams == nil || got.ConsensusParams.Block.MaxBytes != chain.MaxBlockBytes {
		t.Fatalf("genesis %+v", got)
	}
	if err := got.ValidateAndComplete(); err != nil {
		t.Errorf("CometBFT refuses the genesis: %v", err)
	}
	for i, v := range got.Validators {
		if !bytes.Equal(v.PubKey.Bytes(), f.ch.Validators.Get(uint32(i)).PubKey) || v.Power != 1 || v.Name != fmt.Sprintf("validator-%d", i) {
			t.Errorf("validator %d: %+v", i, v)
		}
	}
}

func TestABCIInfo(t *testing.T) {
	f := newFake(t, 1)
	f.commit()
	_, url := serve(t, f, Config{})
	sameJSON(t, "abci_info", call(t, url, "abci_info", nil), &ctypes.ResultABCIInfo{Response: abci.ResponseInfo{
		Data: "fake kv", Version: "1.0", AppVersion: 3, LastBlockHeight: 1, LastBlockAppHash: []byte("apphash-1"),
	}})
}

func TestABCIQuery(t *testing.T) {
	f := newFake(t, 1)
	f.commit()
	_, url := serve(t, f, Config{})
	// As the Go client sends it: data hex (HexBytes), height a string.
	raw := call(t, url, "abci_query", map[string]any{"path": "/key", "data": "6b6579", "height": "0", "prove": false})
	sameJSON(t, "abci_query", raw, &ctypes.ResultABCIQuery{Response: abci.ResponseQuery{
		Log: "exists", Key: []byte("key"), Value: []byte("value of key"), Height: 1,
	}})
	if q := f.queries[len(f.queries)-1]; q.Path != "/key" || string(q.Data) != "key" || q.Height != 0 {
		t.Errorf("the application was asked %+v", q)
	}
	// Positional params, and a height as a JSON number.
	call(t, url, "abci_query", []any{"/p", "61", 1, true})
	if q := f.queries[len(f.queries)-1]; q.Path != "/p" || string(q.Data) != "a" || q.Height != 1 || !q.Prove {
		t.Errorf("positional params reached the application as %+v", q)
	}
	if e := callErr(t, url, "abci_query", map[string]any{"path": "/broken"}); e.Code != codeInternal || !strings.Contains(e.Data, "failed") {
		t.Errorf("a failing application: %+v", e)
	}
	if e := callErr(t, url, "abci_query", map[string]any{"data": "zz"}); e.Code != codeInvalidParams {
		t.Errorf("data not hex: %+v", e)
	}
}

func TestNumUnconfirmedTxs(t *testing.T) {
	f := newFake(t, 1)
	_, url := serve(t, f, Config{})
	call(t, url, "broadcast_tx_sync", map[string]any{"tx": b64([]byte("k=v"))})
	call(t, url, "broadcast_tx_sync", map[string]any{"tx": b64([]byte("k2=v2"))})
	sameJSON(t, "num_unconfirmed_txs", call(t, url, "num_unconfirmed_txs", nil),
		&ctypes.ResultUnconfirmedTxs{Count: 2, Total: 2, TotalBytes: 8})
}

func TestValidators(t *testing.T) {
	f := newFake(t, 5)
	f.commit()
	f.commit()
	_, url := serve(t, f, Config{})
	got := result[ctypes.ResultValidators](t, call(t, url, "validators", nil))
	if got.BlockHeight != 3 || got.Count != 5 || got.Total != 5 || len(got.Validators) != 5 {
		t.Fatalf("validators %+v, want all 5 at height 3 (the next)", got)
	}
	set, err := types.ValidatorSetFromExistingValidators(got.Validators)
	if err != nil {
		t.Fatal(err)
	}
	// The header's validators_hash is this set's, computed by CometBFT.
	blk := result[ctypes.ResultBlock](t, call(t, url, "block", map[string]any{"height": "1"}))
	if !bytes.Equal(set.Hash(), blk.Block.ValidatorsHash) {
		t.Errorf("validators_hash %X, but the validators hash to %X", blk.Block.ValidatorsHash, set.Hash())
	}
	page := result[ctypes.ResultValidators](t, call(t, url, "validators", map[string]any{"height": "2", "page": "2", "per_page": "2"}))
	if page.BlockHeight != 2 || page.Count != 2 || page.Total != 5 || !bytes.Equal(page.Validators[0].Address, got.Validators[2].Address) {
		t.Errorf("page 2 of 2: %+v", page)
	}
	for _, bad := range []map[string]any{{"height": "0"}, {"height": "4"}, {"page": "4", "per_page": "2"}, {"page": "0"}} {
		if e := callErr(t, url, "validators", bad); e.Code != codeInternal {
			t.Errorf("validators %v: %+v", bad, e)
		}
	}
}

// checkBlock checks a block answer against the Strategos block it
// stands for.
func checkBlock(t *testing.T, f *fake, got *ctypes.ResultBlock, b *chain.Block, h chain.Hash) {
	t.Helper()
	blk := got.Block
	if !bytes.Equal(got.BlockID.Hash, h[:]) || got.BlockID.PartSetHeader.Total != 1 || !bytes.Equal(got.BlockID.PartSetHeader.Hash, h[:]) {
		t.Errorf("block_id %v, want hash %X in one part", got.BlockID, h[:])
	}
	if blk.Height != int64(b.Height) || blk.ChainID != fakeChain || !blk.Time.Equal(time.Unix(0, b.Time)) ||
		!bytes.Equal(blk.LastBlockID.Hash, b.Parent[:]) || !bytes.Equal(blk.AppHash, b.StateRoot[:]) ||
		!bytes.Equal(blk.ProposerAddress, cmted25519.PubKey(f.ch.Validators.Get(b.Proposer).PubKey).Address()) {
		t.Errorf("header %+v does not match block %d", blk.Header, b.Height)
	}
	if len(blk.Txs) != len(b.Payload) {
		t.Fatalf("%d txs, want %d", len(blk.Txs), len(b.Payload))
	}
	for i := range b.Payload {
		if !bytes.Equal(blk.Txs[i], b.Payload[i]) {
			t.Errorf("tx %d: %q, want %q", i, blk.Txs[i], b.Payload[i])
		}
	}
	lc := blk.LastCommit
	if lc == nil || lc.Height != int64(b.Height)-1 || lc.Round != int32(b.QC.Round) || !bytes.Equal(lc.BlockID.Hash, b.Parent[:]) || len(lc.Signatures) != 0 {
		t.Errorf("last_commit %+v: want the parent's certificate without signatures", lc)
	}
	// CometBFT's own checks pass but for the signatures that are not
	// there (the genesis certificate of block 1 has none to miss): the
	// hashes of data, evidence and last commit are its own.
	err := blk.ValidateBasic()
	if b.Height == 1 && err != nil {
		t.Errorf("ValidateBasic of block 1: %v", err)
	}
	if b.Height > 1 && (err == nil || !strings.Contains(err.Error(), "no signatures in commit")) {
		t.Errorf("ValidateBasic: %v, want only the missing commit signatures", err)
	}
	if !bytes.Equal(blk.DataHash, blk.Data.Hash()) || !bytes.Equal(blk.EvidenceHash, blk.Evidence.Hash()) || !bytes.Equal(blk.LastCommitHash, lc.Hash()) {
		t.Errorf("header hashes do not match the block's parts")
	}
}

func TestBlock(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	// Before any block: an empty answer, as CometBFT's.
	sameJSON(t, "block at height 0", call(t, url, "block", nil), &ctypes.ResultBlock{})
	b1, h1 := f.commit([]byte("a=1"), []byte("b=2"))
	b2, h2 := f.commit()
	checkBlock(t, f, result[ctypes.ResultBlock](t, call(t, url, "block", map[string]any{"height": "1"})), b1, h1)
	checkBlock(t, f, result[ctypes.ResultBlock](t, call(t, url, "block", nil)), b2, h2) // the latest
	raw := string(call(t, url, "block", map[string]any{"height": "1"}))
	for _, want := range []string{`"txs":["` + b64([]byte("a=1")) + `","` + b64([]byte("b=2")) + `"]`, `"height":"1"`,
		`"hash":"` + upperHex(h1[:]) + `"`, `"signatures":[]`} {
		if !strings.Contains(raw, want) {
			t.Errorf("block does not hold %s: %s", want, clipBytes([]byte(raw)))
		}
	}
	for _, h := range []string{"0", "-1", "3"} {
		if e := callErr(t, url, "block", map[string]any{"height": h}); e.Code != codeInternal || !strings.Contains(e.Data, "height") {
			t.Errorf("block at %s: %+v", h, e)
		}
	}
	if e := callErr(t, url, "block", map[string]any{"height": "x"}); e.Code != codeInvalidParams {
		t.Errorf("height x: %+v", e)
	}
}

// A pruned height is refused as CometBFT refuses it, and status and
// blockchain start at the earliest height kept.
func TestPrunedHeights(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	for range 6 {
		f.commit([]byte("a=1"))
	}
	f.mu.Lock()
	f.earliest = 4
	f.mu.Unlock()
	for _, m := range []string{"block", "block_results", "header"} {
		e := callErr(t, url, m, map[string]any{"height": "3"})
		if !strings.Contains(e.Data, "height 3 is not available, lowest height is 4") {
			t.Errorf("%s at a pruned height: %+v", m, e)
		}
	}
	call(t, url, "block", map[string]any{"height": "4"})
	st := result[ctypes.ResultStatus](t, call(t, url, "status", nil))
	if st.SyncInfo.EarliestBlockHeight != 4 {
		t.Errorf("status: earliest block height %d, want 4", st.SyncInfo.EarliestBlockHeight)
	}
	bc := result[ctypes.ResultBlockchainInfo](t, call(t, url, "blockchain", nil))
	if n := len(bc.BlockMetas); n != 3 || bc.BlockMetas[n-1].Header.Height != 4 {
		t.Errorf("blockchain: %d metas", n)
	}
	if e := callErr(t, url, "blockchain", map[string]any{"minHeight": "2", "maxHeight": "5"}); !strings.Contains(e.Data, "lowest height is 4") {
		t.Errorf("blockchain from a pruned height: %+v", e)
	}
}

func TestBlockByHash(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	b, h := f.commit([]byte("a=1"))
	f.commit()
	// The Go client sends a []byte: base64.
	checkBlock(t, f, result[ctypes.ResultBlock](t, call(t, url, "block_by_hash", map[string]any{"hash": b64(h[:])})), b, h)
	// And hex is understood too.
	checkBlock(t, f, result[ctypes.ResultBlock](t, call(t, url, "block_by_hash", map[string]any{"hash": hex.EncodeToString(h[:])})), b, h)
	var unknown chain.Hash
	sameJSON(t, "unknown hash", call(t, url, "block_by_hash", map[string]any{"hash": b64(unknown[:])}), &ctypes.ResultBlock{})
	if e := callErr(t, url, "block_by_hash", map[string]any{"hash": b64([]byte("short"))}); e.Code != codeInvalidParams {
		t.Errorf("a short hash: %+v", e)
	}
}

func TestHeader(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	sameJSON(t, "header before any block", call(t, url, "header", nil), &ctypes.ResultHeader{})
	f.commit([]byte("a=1"))
	f.commit([]byte("b=1"))
	full := result[ctypes.ResultBlock](t, call(t, url, "block", map[string]any{"height": "1"}))
	sameJSON(t, "header 1", call(t, url, "header", map[string]any{"height": "1"}), &ctypes.ResultHeader{Header: &full.Block.Header})
	// header_by_hash takes HexBytes: hex.
	sameJSON(t, "header_by_hash", call(t, url, "header_by_hash", map[string]any{"hash": upperHex(full.BlockID.Hash)}),
		&ctypes.ResultHeader{Header: &full.Block.Header})
	var unknown chain.Hash
	sameJSON(t, "unknown header", call(t, url, "header_by_hash", map[string]any{"hash": upperHex(unknown[:])}), &ctypes.ResultHeader{})
}

func TestBlockResults(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	f.commit([]byte("a=1"), []byte("fail=1"))
	sameJSON(t, "block_results", call(t, url, "block_results", map[string]any{"height": "1"}), &ctypes.ResultBlockResults{
		Height:     1,
		TxsResults: []*abci.ExecTxResult{{}, {Code: 9, Log: "failed in its block"}},
		AppHash:    []byte("apphash-1"),
	})
	f.commit()
	sameJSON(t, "empty block's results", call(t, url, "block_results", nil), &ctypes.ResultBlockResults{Height: 2, AppHash: []byte("apphash-2")})
	f.mu.Lock()
	f.executed = 1 // height 2 committed, not yet executed
	f.mu.Unlock()
	if e := callErr(t, url, "block_results", map[string]any{"height": "2"}); !strings.Contains(e.Data, "could not find results for height #2") {
		t.Errorf("results not executed yet: %+v", e)
	}
}

func TestBlockchain(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	if e := callErr(t, url, "blockchain", nil); !strings.Contains(e.Data, "can't be greater") {
		t.Errorf("blockchain of no blocks: %+v", e)
	}
	for range 25 {
		f.commit([]byte("x"))
	}
	got := result[ctypes.ResultBlockchainInfo](t, call(t, url, "blockchain", nil))
	if got.LastHeight != 25 || len(got.BlockMetas) != blockchainLimit || got.BlockMetas[0].Header.Height != 25 || got.BlockMetas[19].Header.Height != 6 {
		t.Fatalf("blockchain: last %d, %d metas from %d", got.LastHeight, len(got.BlockMetas), got.BlockMetas[0].Header.Height)
	}
	full := result[ctypes.ResultBlock](t, call(t, url, "block", map[string]any{"height": "25"}))
	m := got.BlockMetas[0]
	if m.NumTxs != 1 || m.BlockSize != full.Block.Size() || m.BlockID.String() != full.BlockID.String() || m.Header.Hash() == nil {
		t.Errorf("meta %+v does not match block 25", m)
	}
	// As cosmjs sends it: minHeight and maxHeight.
	got = result[ctypes.ResultBlockchainInfo](t, call(t, url, "blockchain", map[string]any{"minHeight": "3", "maxHeight": "5"}))
	if len(got.BlockMetas) != 3 || got.BlockMetas[0].Header.Height != 5 || got.BlockMetas[2].Header.Height != 3 {
		t.Errorf("blockchain 3..5: %d metas", len(got.BlockMetas))
	}
	if e := callErr(t, url, "blockchain", map[string]any{"minHeight": "-1"}); !strings.Contains(e.Data, "non-negative") {
		t.Errorf("negative height: %+v", e)
	}
}

func TestTx(t *testing.T) {
	f := newFake(t, 4)
	_, url := serve(t, f, Config{})
	tx, failed := []byte("k=v"), []byte("fail=1")
	f.commit([]byte("first"), tx, failed)
	h := chain.TxHash(tx)
	sameJSON(t, "tx", call(t, url, "tx", map[string]any{"hash": b64(h[:]), "prove": false}), &ctypes.ResultTx{
		Hash: h[:], Height: 1, Index: 1, Tx: tx,
	})
	// A transaction its block rejected is there too, with its code.
	hf := chain.TxHash(failed)
	got := result[ctypes.ResultTx](t, call(t, url, "tx", map[string]any{"hash": b64(hf[:])}))
	if got.TxResult.Code != 9 || got.TxResult.Log != "failed in its block" || got.Index != 2 {
		t.Errorf("rejected tx: %+v", got)
	}
	// With prove: a Merkle proof against the header's data_hash.
	proved := result[ctypes.ResultTx](t, call(t, url, "tx", map[string]any{"hash": b64(h[:]), "prove": true}))
	blk := result[ctypes.ResultBlock](t, call(t, url, "block", map[string]any{"height": "1"}))
	if err := proved.Proof.Validate(blk.Block.DataHash); err != nil {
		t.Errorf("the proof does not verify against data_hash: %v", err)
	}
	unknown := chain.TxHash([]byte("never sent"))
	if e := callErr(t, url, "tx", map[string]any{"hash": b64(unknown[:])}); !strings.Contains(e.Data, fmt.Sprintf("tx (%X) not found", unknown[:])) {
		t.Errorf("unknown tx: %+v", e)
	}
	pending := []byte("later=1")
	call(t, url, "broadcast_tx_sync", map[string]any{"tx": b64(pending)})
	hp := chain.TxHash(pending)
	if e := callErr(t, url, "tx", map[string]any{"hash": b64(hp[:])}); !strings.Contains(e.Data, "not found") || !strings.Contains(e.Data, "pending") {
		t.Errorf("pending tx: %+v", e)
	}
}

func TestBroadcastTxSync(t *testing.T) {
	f := newFake(t, 1)
	_, url := serve(t, f, Config{})
	tx := []byte("k=v")
	h := chain.TxHash(tx)
	sameJSON(t, "accepted", call(t, url, "broadcast_tx_sync", map[string]any{"tx": b64(tx)}), &ctypes.ResultBroadcastTx{Hash: h[:]})
	if len(f.pendingTxs()) != 1 {
		t.Fatal("the transaction did not reach the node")
	}
	// A refusal by the application is an answer with its code and log.
	bad := []byte("bad tx")
	hb := chain.TxHash(bad)
	sameJSON(t, "refused", call(t, url, "broadcast_tx_sync", map[string]any{"tx": b64(bad)}),
		&ctypes.ResultBroadcastTx{Code: 7, Log: "bad transaction", Codespace: "fake", Hash: hb[:]})
	// The node refusing it is an error, as CometBFT's mempool errors are.
	if e := callErr(t, url, "broadcast_tx_sync", map[string]any{"tx": b64(tx)}); !strings.Contains(e.Data, "tx already exists in cache") {
		t.Errorf("duplicate: %+v", e)
	}
	if e := callErr(t, url, "broadcast_tx_async", map[string]any{"tx": b64([]byte("busy"))}); !strings.Contains(e.Data, "mempool is full") {
		t.Errorf("busy: %+v", e)
	}
	if e := callErr(t, url, "broadcast_tx_sync", map[string]any{"tx": "%%%"}); e.Code != codeInvalidParams {
		t.Errorf("tx not base64: %+v", e)
	}
	tx2 := []byte("k2=v2")
	h2 := chain.TxHash(tx2)
	sameJSON(t, "async", call(t, url, "broadcast_tx_async", map[string]any{"tx": b64(tx2)}), &ctypes.ResultBroadcastTx{Hash: h2[:]})
}

func TestCheckTx(t *testing.T) {
	f := newFake(t, 1)
	_, url := serve(t, f, Config{})
	sameJSON(t, "check ok", call(t, url, "check_tx", map[string]any{"tx": b64([]byte("k=v"))}), &ctypes.ResultCheckTx{})
	sameJSON(t, "check refused", call(t, url, "check_tx", map[string]any{"tx": b64([]byte("bad"))}),
		&ctypes.ResultCheckTx{ResponseCheckTx: abci.ResponseCheckTx{Code: 7, Log: "bad transaction", Codespace: "fake"}})
	if len(f.pendingTxs()) != 0 {
		t.Error("check_tx admitted a transaction")
	}
}

func TestBroadcastTxCommit(t *testing.T) {
	f := newFake(t, 1)
	_, url := serve(t, f, Config{CommitTimeout: 5 * time.Second})
	done := make(chan wire, 1)
	tx := []byte("k=v")
	go func() { done <- callWire(t, url, "broadcast_tx_commit", map[string]any{"tx": b64(tx)}) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.pendingTxs()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	f.commit()
	f.commit([]byte("other"), tx)
	w := <-done
	if w.Error != nil {
		t.Fatalf("broadcast_tx_commit: %+v", w.Error)
	}
	h := chain.TxHash(tx)
	sameJSON(t, "committed", w.Result, &ctypes.ResultBroadcastTxCommit{Hash: h[:], Height: 2})
	// Refused by the application: the check's answer at once.
	bad := []byte("bad")
	hb := chain.TxHash(bad)
	sameJSON(t, "refused", call(t, url, "broadcast_tx_commit", map[string]any{"tx": b64(bad)}), &ctypes.ResultBroadcastTxCommit{
		CheckTx: abci.ResponseCheckTx{Code: 7, Log: "bad transaction", Codespace: "fake"}, Hash: hb[:],
	})
}

func TestBroadcastTxCommitTimesOut(t *testing.T) {
	f := newFake(t, 1)
	s, url := serve(t, f, Config{CommitTimeout: 100 * time.Millisecond})
	start := time.Now()
	e := callErr(t, url, "broadcast_tx_commit", map[string]any{"tx": b64([]byte("k=v"))})
	if !strings.Contains(e.Data, "timed out waiting for tx to be included in a block") || time.Since(start) > 3*time.Second {
		t.Errorf("after %v: %+v", time.Since(start), e)
	}
	if s.feed.active() {
		t.Error("the wait still holds its subscriber slot")
	}
}
