package rpc

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"

	"github.com/strategos/strategos/internal/chain"
)

// view presents a Strategos chain in CometBFT's types. Where CometBFT
// has a field that Strategos has no counterpart for, it holds the nearest
// true value (docs/rpc.md lists each); it never holds a signature that
// was not made: commits carry no signatures (a client that must verify a
// block uses the light client: GET /v1/commits/{height}).
type view struct {
	chainID  string
	byIndex  []*types.Validator // by Strategos index
	vals     []*types.Validator // in CometBFT's order: power, then address
	valsHash []byte             // CometBFT's hash of that set
	genesis  *types.GenesisDoc
}

func newView(c Chain) (*view, error) {
	v := &view{chainID: c.ChainID}
	n := c.Validators.Len()
	for i := range uint32(n) {
		val := c.Validators.Get(i)
		if val.Power > math.MaxInt64 {
			return nil, fmt.Errorf("rpc: validator %d has power %d, beyond CometBFT's int64", i, val.Power)
		}
		tv := types.NewValidator(cmted25519.PubKey(val.PubKey), int64(val.Power))
		tv.ProposerPriority = 0 // Strategos has no proposer priorities: its leader rule is its own
		v.byIndex = append(v.byIndex, tv)
	}
	v.vals = append([]*types.Validator(nil), v.byIndex...)
	sort.Sort(types.ValidatorsByVotingPower(v.vals))
	v.valsHash = (&types.ValidatorSet{Validators: v.vals}).Hash()
	g, err := genesisDoc(c, v.byIndex)
	if err != nil {
		return nil, err
	}
	v.genesis = g
	return v, nil
}

// genesisDoc is the genesis file in CometBFT's form.
func genesisDoc(c Chain, vals []*types.Validator) (*types.GenesisDoc, error) {
	g := c.Genesis
	params := types.DefaultConsensusParams()
	params.Block.MaxBytes = chain.MaxBlockBytes // the transactions one block carries
	doc := &types.GenesisDoc{
		GenesisTime:     g.Time.UTC(),
		ChainID:         c.ChainID,
		InitialHeight:   1,
		ConsensusParams: params,
	}
	for i, val := range vals {
		doc.Validators = append(doc.Validators, types.GenesisValidator{
			Address: val.Address, PubKey: val.PubKey, Power: val.VotingPower, Name: fmt.Sprintf("validator-%d", i),
		})
	}
	// What InitChain gives the application: the app state, or for the
	// bank its accounts.
	state := g.AppState
	if len(state) == 0 && len(g.Accounts) > 0 {
		b, err := json.Marshal(g.Accounts)
		if err != nil {
			return nil, err
		}
		state = b
	}
	doc.AppState = state
	return doc, nil
}

// address returns validator i's address (CometBFT's: the first 20 bytes
// of SHA-256 of the ed25519 key, which is also Strategos's).
func (v *view) address(i uint32) types.Address {
	if int(i) >= len(v.byIndex) {
		return nil
	}
	return v.byIndex[i].Address
}

func (v *view) pubKey(i uint32) crypto.PubKey {
	if int(i) >= len(v.byIndex) {
		return nil
	}
	return v.byIndex[i].PubKey
}

// blockID names a Strategos block: its hash, and one part (a block
// travels whole), named by the same hash.
func blockID(h chain.Hash) types.BlockID {
	return types.BlockID{Hash: h[:], PartSetHeader: types.PartSetHeader{Total: 1, Hash: h[:]}}
}

// block returns b, whose hash is h, as CometBFT's block and block id.
//
//   - Hashes that CometBFT computes from the block's parts (data_hash,
//     last_commit_hash, evidence_hash) are computed the same way from
//     what this block holds, so that CometBFT's checks of a block against
//     its own header pass; the block id is Strategos's hash, not
//     CometBFT's hash of the header.
//   - last_commit is the certificate of the parent that b carries: its
//     round, the parent's id, and no signatures.
//   - app_hash is b's state root: the application's hash after block
//     exec_height (in CometBFT, after height-1).
//   - consensus_hash and last_results_hash have no counterpart: empty.
func (v *view) block(b *chain.Block, h chain.Hash, appVersion uint64) (*types.Block, types.BlockID) {
	txs := make(types.Txs, len(b.Payload))
	for i, tx := range b.Payload {
		txs[i] = tx
	}
	commit := &types.Commit{BlockID: blockID(b.Parent), Signatures: []types.CommitSig{}}
	if b.Height > 0 {
		commit.Height = int64(b.Height - 1)
	}
	if b.QC != nil {
		commit.Round = int32(min(b.QC.Round, math.MaxInt32))
	}
	blk := &types.Block{
		Header: types.Header{
			Version:            cmtversion.Consensus{Block: version.BlockProtocol, App: appVersion},
			ChainID:            v.chainID,
			Height:             int64(b.Height),
			Time:               time.Unix(0, b.Time).UTC(),
			LastBlockID:        blockID(b.Parent),
			ValidatorsHash:     v.valsHash,
			NextValidatorsHash: v.valsHash,
			AppHash:            append([]byte(nil), b.StateRoot[:]...),
			ProposerAddress:    v.address(b.Proposer),
		},
		Data:       types.Data{Txs: txs},
		Evidence:   types.EvidenceData{Evidence: types.EvidenceList{}},
		LastCommit: commit,
	}
	blk.LastCommitHash = commit.Hash()
	blk.DataHash = blk.Data.Hash()
	blk.EvidenceHash = blk.Evidence.Hash()
	return blk, blockID(h)
}

// meta returns the block's meta (blockchain's answer).
func meta(blk *types.Block, id types.BlockID) *types.BlockMeta {
	return &types.BlockMeta{BlockID: id, BlockSize: blk.Size(), Header: blk.Header, NumTxs: len(blk.Data.Txs)}
}
