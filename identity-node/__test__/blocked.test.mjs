// Blocked values through the binding: the defaults, block/unblock per tenant, `ignored` in the
// answer (absent when nothing was left out, so JSON.stringify keeps the wire shape),
// `BLOCKED_VALUE` with `fields`, bad entries as `INVALID_INPUT` naming the field, and
// concurrent identifies while values are blocked: no value is stored after its block returned,
// and the shared oracle checks I1-I4 in SQL and the customers against the union-find of the
// requests as screened.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertOracle, freshDatabase } from './helpers.mjs'

test('blocked values are left out and the answer says so', async () => {
  const ident = await Identity.connect('memory:')
  const defaults = await ident.blockedValues()
  assert.ok(defaults.some((e) => e.kind === 'email' && e.value === 'test@test.com'))
  const c = await ident.identify({ email: 'null@shop.io', phoneNumber: '123456' })
  assert.deepEqual(c.ignored, [{ field: 'email', reason: 'blocked' }])
  assert.deepEqual(JSON.parse(JSON.stringify(c)).emails, [])
  const plain = await ident.identify({ email: 'lorraine@hillvalley.edu', phoneNumber: '123456' })
  assert.equal(plain.ignored, undefined)
  assert.ok(!('ignored' in JSON.parse(JSON.stringify(plain))))
  await assert.rejects(ident.identify({ phoneNumber: '000-000-0000' }), (e) => {
    assert.equal(e.code, 'BLOCKED_VALUE')
    assert.deepEqual(e.fields, ['phoneNumber'])
    assert.equal(e.message, 'blocked value: the phone number is blocked')
    return true
  })
  assert.equal((await ident.verify()).clean, true)
  await ident.close()
})

test('block and unblock change one tenant only; bad entries name their field', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  const shop = ident.tenant('shop-a')
  assert.equal(await shop.block({ kind: 'phone', value: '+1 (555) 010-9999' }), true)
  assert.equal(await shop.block({ kind: 'phone', value: '+15550109999' }), false)
  assert.ok((await shop.blockedValues()).some((e) => e.value === '+15550109999'))
  assert.ok(!(await ident.blockedValues()).some((e) => e.value === '+15550109999'))
  await assert.rejects(shop.identify({ phoneNumber: '+1 555 010 9999' }), { code: 'BLOCKED_VALUE' })
  assert.equal((await ident.identify({ phoneNumber: '+15550109999' })).ignored, undefined)
  const zeros = (await shop.blockedValues()).find((e) => e.pattern?.includes('0{6,}'))
  assert.equal(await shop.unblock({ kind: 'phone', pattern: zeros.pattern }), true)
  assert.deepEqual((await shop.identify({ phoneNumber: '0000000000' })).phoneNumbers, ['0000000000'])
  const before = await shop.blockedValues()
  for (const [entry, field] of [
    [{ kind: 'fax', value: '1' }, 'kind'],
    [{ kind: 'email', value: 'no-at-sign' }, 'value'],
    [{ kind: 'email' }, 'value'],
    [{ kind: 'phone', pattern: '(' }, 'pattern'],
    [{ kind: 'phone', value: 5 }, 'value'],
    ['email', 'request'],
  ]) {
    await assert.rejects(shop.block(entry), (e) => {
      assert.equal(e.code, 'INVALID_INPUT', JSON.stringify(entry))
      assert.equal(e.field, field, JSON.stringify(entry))
      return true
    })
  }
  assert.deepEqual(await shop.blockedValues(), before)
  await ident.close()
})

test('concurrent identifies never store a value after its block returned', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 8 })
    const screened = []
    const carrying = async (value) =>
      new Set((await db.query(`SELECT id::int FROM contact WHERE email = '${value}' OR phone_number = '${value}'`)).map((r) => r.id))
    const workers = Array.from({ length: 6 }, async (_, n) => {
      for (let i = 0; i < 60; i++) {
        const email = `e${(i * 7 + n) % 6}@x.io`
        const phoneNumber = `555${String((i + n) % 6).padStart(4, '0')}`
        try {
          const c = await ident.identify({ email, phoneNumber })
          const left = new Set((c.ignored ?? []).map((x) => x.field))
          screened.push({ email: left.has('email') ? null : email, phoneNumber: left.has('phoneNumber') ? null : phoneNumber })
        } catch (e) {
          if (e.code !== 'BLOCKED_VALUE') throw e
        }
      }
    })
    const frozen = new Map()
    for (const value of ['e0@x.io', 'e1@x.io', '5550002', '5550003']) {
      assert.equal(await ident.block({ kind: value.includes('@') ? 'email' : 'phone', value }), true)
      frozen.set(value, await carrying(value))
    }
    await Promise.all(workers)
    for (const [value, before] of frozen) assert.deepEqual(await carrying(value), before, `${value} stored after its block`)
    assertOracle(db, screened)
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})
