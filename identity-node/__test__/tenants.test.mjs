// Tenants through the binding: ident.tenant(id) is a cheap handle on the same store whose calls
// see only that tenant's customers; promises storming several tenants with identical values keep
// each tenant whole and apart (checked by the shared oracle and verify per tenant).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertOracle, freshDatabase, workload } from './helpers.mjs'

test('the same values in two tenants are two customers', async () => {
  const ident = await Identity.connect('memory:')
  const a = ident.tenant('shop-a')
  const b = ident.tenant('shop-b')
  assert.deepEqual([ident.tenantId, a.tenantId, b.tenantId], ['default', 'shop-a', 'shop-b'])
  const first = await a.identify({ email: 'doc@x.io', phoneNumber: '1' })
  const second = await a.identify({ email: 'marty@x.io', phoneNumber: '1' })
  assert.equal(second.secondaryContactIds.length, 1)
  assert.equal(await b.lookup({ email: 'doc@x.io' }), null)
  assert.equal(await ident.lookup({ phoneNumber: '1' }), null)
  const inB = await b.identify({ email: 'doc@x.io', phoneNumber: '1' })
  assert.notEqual(inB.primaryContactId, first.primaryContactId)
  assert.deepEqual(inB.secondaryContactIds, [])
  assert.deepEqual([(await a.verify()).rows, (await b.verify()).rows, (await ident.verify()).rows], [2, 1, 0])
  assert.deepEqual(await a.lookup({ email: 'doc@x.io' }), second)
  await ident.close()
})

test('a bad tenant id throws INVALID_INPUT naming tenant', async () => {
  const ident = await Identity.connect('memory:')
  for (const bad of ['', 'shop 42', 'a/b', 'x'.repeat(65), 42, null, undefined, {}]) {
    assert.throws(() => ident.tenant(bad), (e) => e.code === 'INVALID_INPUT' && e.field === 'tenant', String(bad))
  }
  await ident.close()
})

test('closing any handle closes the store for every tenant', async () => {
  const ident = await Identity.connect('memory:')
  const shop = ident.tenant('shop-a')
  await shop.close()
  assert.equal(ident.closed, true)
  await assert.rejects(ident.identify({ email: 'a@x.io' }), (e) => e.code === 'CLOSED')
})

test('promises over tenants sharing every value keep each tenant apart', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 16, acquireTimeoutMs: 30_000 })
    const tenants = ['default', 'shop-a', 'shop.b']
    const requests = workload(7, 300, 8, 50)
    await Promise.all(tenants.flatMap((t) => {
      const scoped = ident.tenant(t)
      return requests.map((r) => scoped.identify(r))
    }))
    assertOracle(db, tenants.flatMap((tenant) => requests.map((r) => ({ ...r, tenant }))))
    for (const t of tenants) assert.equal((await ident.tenant(t).verify()).clean, true, t)
    await ident.close()
  } finally {
    await db.drop()
  }
})
