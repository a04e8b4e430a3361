// Makes protocol/tests/fixtures/sui_key_vectors.json with Sui's official TypeScript SDK
// (@mysten/sui, version pinned in package.json), so the Rust tests check daas-protocol's
// Sui accounts of every scheme against what wallets and the Sui CLI produce.
//
//   cd protocol/tests/sui-sdk && npm ci && node make_vectors.mjs > ../fixtures/sui_key_vectors.json
//
// Every value below comes from the SDK; nothing is computed by hand except the fixed
// secrets (Blake2b-256 of a label) and the high-S twin of each ECDSA signature (n - s),
// which the SDK must refuse too (checked here before it is written out).

import { blake2b } from '@noble/hashes/blake2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography';
import { Transaction } from '@mysten/sui/transactions';
import { toBase64, fromBase64 } from '@mysten/sui/utils';
import { verifyTransactionSignature } from '@mysten/sui/verify';
import { readFileSync } from 'node:fs';

const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/@mysten/sui/package.json', import.meta.url)),
).version;

const FLAGS = { ED25519: 0, Secp256k1: 1, Secp256r1: 2 };
// Group orders, for the high-S twin of a signature.
const ORDER = {
  Secp256k1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  Secp256r1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
};

const KINDS = [
  ['ED25519', Ed25519Keypair],
  ['Secp256k1', Secp256k1Keypair],
  ['Secp256r1', Secp256r1Keypair],
];

const hexToBytes = (h) => Uint8Array.from(h.match(/../g).map((b) => parseInt(b, 16)));
const toHex32 = (n) => n.toString(16).padStart(64, '0');

function secretFor(label) {
  return blake2b(new TextEncoder().encode(label), { dkLen: 32 });
}

// Fixed object refs (any 32 bytes: the transaction is built offline and never sent).
const id = (byte) => '0x' + byte.repeat(32);
const GAS_COIN = {
  objectId: id('a1'),
  version: '7',
  digest: '9Tvs1pGrMbNv7kkr1PoKLsWamyQpaFz5UWbL2AQ1ezk2',
};
const PACKAGE = id('b2');
const REGISTRY = { objectId: id('c3'), initialSharedVersion: '3', mutable: true };
const CLOCK = { objectId: '0x6', initialSharedVersion: '1', mutable: false };

// A registration as the owner CLI sends it: SplitCoins(GasCoin, [stake]) then
// stake_and_register_worker(registry, coin, node_id, seal_token, clock).
async function registrationTx(sender, stake, nodeId, sealToken) {
  const tx = new Transaction();
  tx.setSender(sender);
  tx.setGasPrice(1000);
  tx.setGasBudget(10_000_000);
  tx.setGasPayment([GAS_COIN]);
  const [coin] = tx.splitCoins(tx.gas, [tx.pure.u64(stake)]);
  tx.moveCall({
    target: `${PACKAGE}::worker_registry::stake_and_register_worker`,
    arguments: [
      tx.sharedObjectRef(REGISTRY),
      coin,
      tx.pure.string(nodeId),
      tx.pure.vector('u8', Array.from(sealToken)),
      tx.sharedObjectRef(CLOCK),
    ],
  });
  return tx.build();
}

const vectors = [];
for (const [scheme, Keypair] of KINDS) {
  for (const i of [0, 1]) {
    const label = `k8s-daas sui key vector ${scheme} ${i}`;
    const secret = secretFor(label);
    const kp = Keypair.fromSecretKey(secret);
    const suiprivkey = kp.getSecretKey();
    const decoded = decodeSuiPrivateKey(suiprivkey);
    if (decoded.scheme !== scheme || bytesToHex(decoded.secretKey) !== bytesToHex(secret)) {
      throw new Error(`${label}: suiprivkey does not decode to its own secret`);
    }
    const address = kp.getPublicKey().toSuiAddress();
    const stake = 1_000_000_000n + BigInt(i);
    const nodeId = `vector-${i}-0123456789abcdef`;
    // Any 129 bytes: the SDK only carries them (the chain would check the claim).
    const sealToken = new Uint8Array(129);
    sealToken.set(blake2b(new TextEncoder().encode(label + ' seal a'), { dkLen: 64 }), 0);
    sealToken.set(blake2b(new TextEncoder().encode(label + ' seal b'), { dkLen: 64 }), 64);
    sealToken[128] = i;
    const txBytes = await registrationTx(address, stake, nodeId, sealToken);
    const { signature } = await kp.signTransaction(txBytes);
    await verifyTransactionSignature(txBytes, signature, { address });

    const serialized = fromBase64(signature);
    let highS = null;
    if (scheme !== 'ED25519') {
      const s = BigInt('0x' + bytesToHex(serialized.slice(33, 65)));
      const twin = Uint8Array.from(serialized);
      twin.set(hexToBytes(toHex32(ORDER[scheme] - s)), 33);
      highS = toBase64(twin);
      let accepted = true;
      try {
        await verifyTransactionSignature(txBytes, highS, { address });
      } catch {
        accepted = false;
      }
      if (accepted) throw new Error(`${label}: the SDK accepts the high-S twin`);
    }
    vectors.push({
      label,
      scheme,
      flag: FLAGS[scheme],
      secret_hex: bytesToHex(secret),
      suiprivkey,
      keystore_entry: toBase64(Uint8Array.from([FLAGS[scheme], ...secret])),
      public_key_hex: bytesToHex(kp.getPublicKey().toRawBytes()),
      sui_public_key: kp.getPublicKey().toSuiPublicKey(),
      address,
      registration: {
        stake: stake.toString(),
        node_id: nodeId,
        seal_token_hex: bytesToHex(sealToken),
      },
      tx_bytes: toBase64(txBytes),
      signature,
      high_s_signature: highS,
    });
  }
}

const out = {
  generator: 'protocol/tests/sui-sdk/make_vectors.mjs',
  sdk: `@mysten/sui ${sdkVersion}`,
  transaction: {
    gas_coin: GAS_COIN,
    gas_price: 1000,
    gas_budget: 10_000_000,
    package: PACKAGE,
    registry: REGISTRY,
  },
  vectors,
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
