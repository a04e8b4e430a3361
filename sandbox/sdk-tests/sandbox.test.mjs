// Sui's official TypeScript SDK (@mysten/sui) against a real daas-sandbox chain, over
// JSON-RPC (SuiJsonRpcClient) and GraphQL (SuiGraphQLClient): the SDK reads the chain
// id, the registry and its workers, lists coins, and builds, signs and executes a
// stake_and_register_worker with its own Transaction builder — shared objects passed
// as explicit references and as plain ids it resolves itself — then sees the event and
// the new Worker. run.sh starts the chain and writes SANDBOX_INFO / SANDBOX_FIXTURE.
//
// Only 127.0.0.1 is contacted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { SuiJsonRpcClient } from '@mysten/sui/jsonRpc';
import { SuiGraphQLClient } from '@mysten/sui/graphql';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Transaction } from '@mysten/sui/transactions';
import { bcs } from '@mysten/sui/bcs';
import { normalizeSuiAddress } from '@mysten/sui/utils';

const info = JSON.parse(readFileSync(process.env.SANDBOX_INFO, 'utf8'));
const fixture = JSON.parse(readFileSync(process.env.SANDBOX_FIXTURE, 'utf8'));
const PKG = info.package_id;
const SUI = 1_000_000_000n;
const WORKER_TYPE = `${PKG}::worker_registry::Worker`;

const transports = [
	['JSON-RPC', () => new SuiJsonRpcClient({ url: info.rpc_url, network: 'localnet' }), 0],
	['GraphQL', () => new SuiGraphQLClient({ url: info.graphql_url, network: 'localnet' }), 2],
];

function hexToBytes(hex) {
	return Uint8Array.from(hex.match(/../g).map((b) => parseInt(b, 16)));
}

/** The registry's Table UID, from the registry's BCS (id, then the table's id). */
async function workersTable(core) {
	const { object } = await core.getObject({
		objectId: info.registry_id,
		include: { content: true },
	});
	return normalizeSuiAddress(bcs.Address.parse(object.content.slice(32, 64)));
}

async function registerWith(core, device, signer, explicitRefs) {
	const tx = new Transaction();
	const [stake] = tx.splitCoins(tx.gas, [SUI]);
	const registry = explicitRefs
		? tx.sharedObjectRef({
				objectId: info.registry_id,
				initialSharedVersion: info.registry_initial_shared_version,
				mutable: true,
			})
		: tx.object(info.registry_id);
	const clock = explicitRefs
		? tx.sharedObjectRef({ objectId: '0x6', initialSharedVersion: 1, mutable: false })
		: tx.object('0x6');
	tx.moveCall({
		target: `${PKG}::worker_registry::stake_and_register_worker`,
		arguments: [
			registry,
			stake,
			tx.pure.string(device.node_id),
			tx.pure.vector('u8', hexToBytes(device.seal_token)),
			clock,
		],
	});
	return core.signAndExecuteTransaction({
		transaction: tx,
		signer,
		include: { effects: true, events: true },
	});
}

for (const [name, make, firstAccount] of transports) {
	test(`${name}: the SDK reads, builds, signs and executes against the sandbox`, async (t) => {
		const client = make();
		const core = client.core;

		await t.test('chain id is the digest of checkpoint 0', async () => {
			const { chainIdentifier } = await core.getChainIdentifier();
			assert.equal(chainIdentifier, info.chain_id);
		});

		await t.test('the registry and its (empty) workers table', async () => {
			const { object } = await core.getObject({
				objectId: info.registry_id,
				include: { json: true, content: true },
			});
			assert.equal(object.type, `${PKG}::worker_registry::WorkerRegistry`);
			assert.deepEqual(object.owner, {
				$kind: 'Shared',
				Shared: { initialSharedVersion: String(info.registry_initial_shared_version) },
			});
			assert.equal(String(object.json.min_stake), String(info.genesis.min_stake));
			const table = await workersTable(core);
			const { dynamicFields } = await core.listDynamicFields({ parentId: table });
			assert.ok(Array.isArray(dynamicFields));
		});

		await t.test('coins and balance of the staker', async () => {
			const owner = info.accounts[firstAccount].address;
			const { objects } = await core.listCoins({ owner });
			assert.equal(objects.length, 2);
			for (const c of objects) assert.equal(c.balance, String(1000n * SUI));
			const { balance } = await core.getBalance({ owner });
			assert.equal(balance.balance, String(2000n * SUI));
		});

		for (const [i, explicitRefs] of [
			[firstAccount, true],
			[firstAccount + 1, false],
		]) {
			await t.test(
				`stake_and_register_worker with shared objects ${explicitRefs ? 'as explicit references' : 'as plain ids the SDK resolves'}`,
				async () => {
					const device = fixture.devices[i];
					const signer = Ed25519Keypair.fromSecretKey(info.accounts[i].suiprivkey);
					assert.equal(signer.toSuiAddress(), info.accounts[i].address);
					const result = await registerWith(core, device, signer, explicitRefs);
					assert.equal(result.$kind, 'Transaction', JSON.stringify(result.FailedTransaction?.status));
					const txn = result.Transaction;
					assert.equal(txn.status.success, true);
					// the event, as the SDK decodes it
					const registered = txn.events.find((e) =>
						e.eventType.endsWith('::worker_registry::WorkerRegisteredEvent'),
					);
					assert.ok(registered, `events: ${txn.events.map((e) => e.eventType)}`);
					assert.equal(registered.json.node_id, device.node_id);
					assert.equal(normalizeSuiAddress(registered.json.owner), info.accounts[i].address);
					// the effects, parsed from Sui's BCS by the SDK
					const created = txn.effects.changedObjects.filter((o) => o.idOperation === 'Created');
					assert.equal(created.length, 2, 'the Worker and its table entry');
					await core.waitForTransaction({ result });

					// the new Worker, found through the registry's table
					const table = await workersTable(core);
					const name = bcs.String.serialize(device.node_id).toBytes();
					const { dynamicField } = await core.getDynamicField({
						parentId: table,
						name: { type: '0x1::string::String', bcs: name },
					});
					const workerId = normalizeSuiAddress(bcs.Address.parse(dynamicField.value.bcs));
					assert.equal(workerId, normalizeSuiAddress(registered.json.worker_id));
					const { object } = await core.getObject({
						objectId: workerId,
						include: { json: true },
					});
					assert.equal(object.type, WORKER_TYPE);
					assert.equal(object.json.node_id, device.node_id);
					assert.equal(object.json.status, 0, 'Pending');
					assert.equal(String(object.json.stake), String(SUI));
					const { dynamicFields } = await core.listDynamicFields({ parentId: table });
					assert.ok(dynamicFields.some((f) => normalizeSuiAddress(f.fieldId) === dynamicField.fieldId));
				},
			);
		}

		await t.test('a Move abort reaches the SDK as one (node_id already taken: code 2)', async () => {
			const device = fixture.devices[firstAccount];
			const signer = Ed25519Keypair.fromSecretKey(info.accounts[firstAccount].suiprivkey);
			await assert.rejects(registerWith(core, device, signer, true), (e) => {
				assert.equal(e.executionError?.$kind, 'MoveAbort', String(e));
				assert.equal(String(e.executionError.MoveAbort.abortCode), '2');
				return true;
			});
		});
	});
}

test('JSON-RPC: what the sandbox does not serve is named, never answered empty', async () => {
	const core = new SuiJsonRpcClient({ url: info.rpc_url, network: 'localnet' }).core;
	// suix_getOwnedObjects is outside the steps the sandbox models
	await assert.rejects(
		core.listOwnedObjects({ owner: info.accounts[0].address }),
		/Method not found: suix_getOwnedObjects/,
	);
});
