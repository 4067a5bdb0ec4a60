// Drives a Strategos node's CometBFT-compatible RPC with cosmjs's
// Comet38Client, as a cosmjs application would: node run.js HOST:PORT.
// It prints one JSON line on success and exits non-zero, saying why, on
// the first thing that is not as CometBFT would answer it.
"use strict";

const { Comet38Client, connectComet, isComet38Client } = require("@cosmjs/tendermint-rpc");

const rpc = process.argv[2];
if (!rpc) {
  console.error("usage: node run.js HOST:PORT");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) throw new Error(what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// first resolves with the first event of stream, or rejects after ms.
function first(stream, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} event within ${ms} ms`)), ms);
    const sub = stream.subscribe({
      next: (ev) => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(ev);
      },
      error: (err) => {
        clearTimeout(timer);
        reject(new Error(`${what} subscription: ${err}`));
      },
      complete: () => {},
    });
  });
}

async function main() {
  // cosmjs picks its client by the node's version: it must pick 0.38's.
  const detected = await connectComet("http://" + rpc);
  check(isComet38Client(detected), "connectComet did not pick the CometBFT 0.38 client");
  detected.disconnect();

  const client = await Comet38Client.connect("http://" + rpc);
  const status = await client.status();
  check(status.syncInfo.latestBlockHeight >= 1, `status: height ${status.syncInfo.latestBlockHeight}`);
  check(status.nodeInfo.network.length > 0, "status: no network");
  check(status.validatorInfo.pubkey.algorithm === "ed25519", "status: validator key is not ed25519");
  check(status.validatorInfo.votingPower > 0n, "status: no voting power");

  const abci = await client.abciInfo();
  check(abci.lastBlockHeight >= 1, `abci_info: last block height ${abci.lastBlockHeight}`);

  const genesis = await client.genesis();
  check(genesis.chainId === status.nodeInfo.network, "genesis: another chain id");

  // The websocket: subscribe to Tx, then to NewBlock, on one socket. The
  // node takes subscriptions in order, so once a NewBlock event is in,
  // the Tx subscription is too, and the broadcast's event cannot be
  // missed.
  const ws = await Comet38Client.connect("ws://" + rpc);
  const key = "cosmjs" + Date.now();
  const txBytes = Buffer.from(`${key}=hello`);
  const txEvent = first(ws.subscribeTx(), 30000, "Tx");
  const block = await first(ws.subscribeNewBlock(), 20000, "NewBlock");

  const sent = await client.broadcastTxSync({ tx: txBytes });
  check(sent.code === 0, `broadcast_tx_sync: code ${sent.code} ${sent.log}`);
  check(sent.hash.length === 32, "broadcast_tx_sync: hash is not 32 bytes");

  check(block.header.height >= 1 && block.header.chainId === status.nodeInfo.network, "NewBlock event: bad header");
  const tev = await txEvent;
  check(Buffer.from(tev.tx).equals(txBytes), "Tx event: another transaction");
  check(Buffer.from(tev.hash).equals(Buffer.from(sent.hash)), "Tx event: another hash");
  check(tev.result.code === 0, `Tx event: code ${tev.result.code}`);

  // Wait for the transaction, as an application would.
  let found;
  for (let i = 0; i < 100 && !found; i++) {
    try {
      found = await client.tx({ hash: sent.hash });
    } catch (e) {
      await sleep(100);
    }
  }
  check(found, "tx: never found");
  check(found.result.code === 0 && Buffer.from(found.tx).equals(txBytes), "tx: bad answer");
  check(found.height === tev.height, `tx: height ${found.height}, event said ${tev.height}`);

  const inBlock = await client.block(found.height);
  check(inBlock.block.header.height === found.height, "block: another height");
  check(inBlock.block.txs.some((t) => Buffer.from(t).equals(txBytes)), "block: the transaction is not in it");
  check(inBlock.blockId.hash.length === 32 && inBlock.blockId.parts.total === 1, "block: bad block id");

  const results = await client.blockResults(found.height);
  check(results.results.length === inBlock.block.txs.length, "block_results: not one result per transaction");

  const vals = await client.validatorsAll();
  check(vals.total >= 1 && vals.validators.length === vals.total, "validators: none");

  const chain = await client.blockchain(1, found.height);
  check(chain.blockMetas.length >= 1 && chain.blockMetas[0].header.height === found.height, "blockchain: bad metas");

  const query = await client.abciQuery({ path: "/", data: Buffer.from(key) });
  check(Buffer.from(query.value).toString() === "hello", `abci_query: value ${Buffer.from(query.value)}`);

  const unconfirmed = await client.numUnconfirmedTxs();
  check(unconfirmed.total >= 0, "num_unconfirmed_txs");

  // broadcast_tx_commit, and the same calls over the websocket.
  const committed = await ws.broadcastTxCommit({ tx: Buffer.from(`${key}2=again`) });
  check(committed.checkTx.code === 0 && committed.txResult.code === 0 && committed.height >= found.height,
    `broadcast_tx_commit: ${JSON.stringify({ check: committed.checkTx.code, height: committed.height })}`);
  const wsStatus = await ws.status();
  check(wsStatus.syncInfo.latestBlockHeight >= committed.height, "status over the websocket");

  ws.disconnect();
  client.disconnect();
  console.log(JSON.stringify({ ok: true, chain_id: status.nodeInfo.network, tx_height: found.height, event_block: block.header.height }));
  // The websocket client's reconnecting socket keeps timers alive.
  process.exit(0);
}

main().catch((err) => {
  console.error("cosmjs: " + (err && err.stack ? err.stack : err));
  process.exit(1);
});
