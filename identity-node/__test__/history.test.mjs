// History through the binding: what identify and block record, asking with an absorbed
// customer's id, the JSON wire shape, NOT_FOUND for unknown ids and INVALID_INPUT for ids that
// are not positive integers, and concurrent identifies after which every customer's history
// explains exactly its rows (checked against the rows in SQL) and the oracle finds I1-I4 hold.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertOracle, freshDatabase, workload } from './helpers.mjs'

test('history explains rows, merges and blocks', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const one = (await ident.identify({ email: 'a@x.io', phoneNumber: '111' })).primaryContactId
  const two = (await ident.identify({ email: 'b@x.io', phoneNumber: '222' })).primaryContactId
  await ident.identify({ email: 'a@x.io', phoneNumber: '222' }) // joins two into one
  await ident.identify({ email: 'c@x.io', phoneNumber: '111' })
  await ident.block({ kind: 'email', value: 'b@x.io' })
  await ident.block({ kind: 'email', value: 'unrelated@x.io' })

  const history = await ident.history(two)
  assert.equal(history.askedId, two)
  assert.equal(history.customerId, one)
  assert.deepEqual(history.events.map((e) => e.type), ['created', 'created', 'merged', 'created', 'blocked'])
  const [created, , merged, joined, blocked] = history.events
  assert.deepEqual([created.customerId, created.contactId, created.via], [one, one, []])
  assert.ok(!Number.isNaN(new Date(created.at).getTime()) && created.at.endsWith('Z'))
  const { at, ...rest } = JSON.parse(JSON.stringify(merged))
  assert.equal(typeof at, 'string')
  assert.deepEqual(rest, {
    type: 'merged', customerId: one, absorbedId: two, relinkedIds: [two], email: 'a@x.io', phoneNumber: '222',
  })
  assert.deepEqual(joined.via, ['phone'])
  assert.deepEqual(JSON.parse(JSON.stringify(blocked.entry)), { kind: 'email', value: 'b@x.io' })
  assert.equal(blocked.customerId, undefined)
  assert.deepEqual((await ident.history(3n)).events, history.events)

  await assert.rejects(ident.history(999), (e) => {
    assert.equal(e.code, 'NOT_FOUND')
    assert.equal(e.message, 'contact 999 not found')
    return true
  })
  await assert.rejects(ident.tenant('other').history(one), { code: 'NOT_FOUND' })
  for (const bad of [0, -1, 1.5, '1', null, undefined, {}, Number.MAX_VALUE, -3n]) {
    await assert.rejects(ident.history(bad), (e) => {
      assert.equal(e.code, 'INVALID_INPUT', String(bad))
      assert.equal(e.field, 'contactId')
      return true
    })
  }
  await ident.close()
})

test('after concurrent identifies every history explains exactly its customer', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url)
    const requests = [1, 2, 3, 4, 5, 6].flatMap((seed) => workload(seed, 60, 8, 30))
    await Promise.all(requests.map((r) => ident.identify(r)))
    const rows = await db.query('SELECT id::int, coalesce(linked_id, id)::int AS primary FROM contact')
    const customers = new Map()
    for (const r of rows) customers.set(r.primary, [...(customers.get(r.primary) ?? []), r.id])
    assert.ok([...customers.values()].some((m) => m.length > 2))
    for (const [primary, members] of customers) {
      const history = await ident.history(primary)
      const explained = history.events.filter((e) => e.type === 'created').map((e) => e.contactId)
      assert.deepEqual(explained.sort((a, b) => a - b), members.sort((a, b) => a - b), `customer ${primary}`)
    }
    const [{ created, distinct }] = await db.query(
      "SELECT count(*)::int AS created, count(DISTINCT contact_id)::int AS distinct FROM identity_event WHERE kind = 'created'")
    assert.deepEqual([created, distinct], [rows.length, rows.length])
    assertOracle(db, requests)
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})
