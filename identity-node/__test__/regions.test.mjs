// Phone regions through the binding: setPhoneRegion makes a tenant read its numbers with
// libphonenumber's rules and store them in E.164; bad numbers and codes are INVALID_INPUT naming
// the field; a change once the tenant has contacts is CONFLICT and changes nothing; promises
// identifying while the region is set leave the tenant under one rule (the shared oracle checks
// I1-I4 in SQL, verify the derived records).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertOracle, freshDatabase } from './helpers.mjs'

const NO_CAPS = { emails: null, phones: null }

const SPELLINGS = ['098765 43210', '+91 98765 43210', '9876543210', 9876543210]

test('a tenant with a region reads every spelling of a number as one', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const shop = ident.tenant('shop-in')
  assert.deepEqual(await shop.setPhoneRegion('in'), { tenantId: 'shop-in', phoneRegion: 'IN', limits: NO_CAPS })
  assert.deepEqual(await shop.settings(), { tenantId: 'shop-in', phoneRegion: 'IN', limits: NO_CAPS })
  const ids = new Set()
  for (const [i, phoneNumber] of SPELLINGS.entries()) {
    const c = await shop.identify({ email: `p${i}@x.io`, phoneNumber })
    assert.deepEqual(c.phoneNumbers, ['+919876543210'])
    ids.add(c.primaryContactId)
  }
  assert.equal(ids.size, 1)
  assert.deepEqual(await ident.settings(), { tenantId: 'default', phoneRegion: null, limits: NO_CAPS })
  assert.deepEqual((await ident.identify({ phoneNumber: '098765 43210' })).phoneNumbers, ['09876543210'])
  assert.equal((await shop.verify()).clean, true)
  await ident.close()
})

test('bad numbers and codes name their field; a change after contacts is CONFLICT', async () => {
  const ident = await Identity.connect('memory:')
  const shop = ident.tenant('shop-us')
  await shop.setPhoneRegion('US')
  await assert.rejects(shop.identify({ email: 'a@x.io', phoneNumber: '555 0123' }), (e) =>
    e.code === 'INVALID_INPUT' && e.field === 'phoneNumber' && /is not a valid number in region US/.test(e.message))
  for (const bad of ['XX', 'USA', 1, {}]) {
    await assert.rejects(shop.setPhoneRegion(bad), (e) => e.code === 'INVALID_INPUT' && e.field === 'phoneRegion', String(bad))
  }
  assert.equal((await shop.verify()).rows, 0)
  await shop.identify({ phoneNumber: '(201) 555-0123' })
  assert.deepEqual(await shop.setPhoneRegion('US'), { tenantId: 'shop-us', phoneRegion: 'US', limits: NO_CAPS }) // the same: a no-op
  for (const other of ['GB', null]) {
    await assert.rejects(shop.setPhoneRegion(other), (e) =>
      e.code === 'CONFLICT' && e.field === undefined && /^conflict: tenant shop-us already has contacts/.test(e.message))
  }
  assert.equal((await shop.settings()).phoneRegion, 'US')
  await ident.close()
})

test('promises identifying while the region is set leave the tenant under one rule', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 8, acquireTimeoutMs: 30_000 })
    for (let round = 0; round < 6; round++) {
      const shop = ident.tenant(`storm-${round}`)
      const identifies = []
      for (let i = 0; i < 60; i++) {
        const n = 9876543210 + (i % 4)
        const phoneNumber = [`0${n}`, `+91 ${n}`, String(n)][i % 3]
        identifies.push(shop.identify({ email: `e${(i * 7) % 5}@x.io`, phoneNumber }))
      }
      const set = shop.setPhoneRegion('IN').then(() => true, (e) => {
        if (e.code !== 'CONFLICT') throw e
        return false
      })
      await Promise.all(identifies)
      const region = (await shop.settings()).phoneRegion
      assert.equal(region === 'IN', await set, `round ${round}`)
      if (region === 'IN') {
        const c = await shop.lookup({ email: 'e0@x.io' })
        assert.ok(c.phoneNumbers.every((p) => p.startsWith('+9198765432')), JSON.stringify(c))
      }
      assert.equal((await shop.verify()).clean, true, `round ${round}`)
    }
    assertOracle(db, null)
    await ident.close()
  } finally {
    await db.drop()
  }
})
