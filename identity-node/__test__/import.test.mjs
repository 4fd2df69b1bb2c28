// Import and export through the binding: the import equals replaying the checkouts through
// identify, every spelling of a time JavaScript has, malformed checkouts refused by index
// (nothing written under abort), argument checks (each its code and field), and imports racing
// identifies into the same tenants, after which the shared oracle checks the invariants in SQL
// and each tenant's customers against a union-find, and verify is clean.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'
import { assertOracle, freshDatabase, workload } from './helpers.mjs'

const T0 = Date.UTC(2019, 2, 1, 10)

// the requests as checkouts a minute apart, in order
const checkoutsOf = (requests) => requests.map((r, i) => ({ ...r, at: new Date(T0 + i * 60_000) }))

async function replayed(requests) {
  const ident = await Identity.connect('memory:')
  for (const r of requests) await ident.identify(r)
  return ident
}

test('an import equals replaying the checkouts through identify', async () => {
  const requests = workload(7, 120)
  const replay = await replayed(requests)
  const ident = await Identity.connect('sqlite::memory:')
  const report = await ident.importCheckouts(checkoutsOf(requests))
  const expected = await replay.customers()
  assert.deepEqual(await ident.customers(), expected)
  assert.equal(report.written, true)
  assert.equal(report.customers, expected.length)
  assert.equal(report.rows, expected.reduce((n, c) => n + 1 + c.secondaryContactIds.length, 0))
  assert.deepEqual([report.firstId, report.lastId, report.rejected], [1, report.rows, 0])
  const last = requests.at(-1)
  assert.deepEqual(await ident.lookup(last), await replay.lookup(last))
  assert.equal((await ident.verify()).clean, true)
  await Promise.all([ident.close(), replay.close()])
})

test('every spelling of a time and a phone number reads as online', async () => {
  const ident = await Identity.connect('memory:')
  const report = await ident.importCheckouts([
    { email: 'late@x.io', phoneNumber: 5550101, at: '2021-06-01T00:00:00+02:00' },
    { email: 'doc@x.io', phoneNumber: '555-0101', at: new Date(Date.UTC(2019, 0, 1)) },
    { email: 'ms@x.io', at: Date.UTC(2020, 0, 1, 9) },
    { email: 'seconds@x.io', phoneNumber: 5550202n, at: Date.UTC(2020, 0, 1, 9, 0, 1) / 1000 },
    { email: 'old@x.io', at: new Date(Date.UTC(1970, 0, 2)) }, // milliseconds no era misreads
    { email: 'Doc@X.io', phoneNumber: '5550202', at: '2022-01-01 00:00:00+00', extra: 'ignored' },
  ])
  assert.deepEqual(
    [report.checkouts, report.rows, report.customers, report.merges],
    [6, 5, 3, 1],
  )
  const byEmail = Object.fromEntries((await ident.customers()).map((c) => [c.emails[0], c]))
  assert.equal(byEmail['old@x.io'].primaryContactId, 1)
  assert.equal(byEmail['doc@x.io'].primaryContactId, 2)
  assert.deepEqual(byEmail['doc@x.io'].emails, ['doc@x.io', 'seconds@x.io', 'late@x.io'])
  assert.deepEqual(byEmail['doc@x.io'].phoneNumbers, ['5550101', '5550202'])
  assert.equal(byEmail['ms@x.io'].primaryContactId, 3)
  assert.deepEqual(report.ignored, { blocked: 0, suppressed: 0 })
  // the rows keep their checkouts' times, in UTC, in the task's Contact shape
  const rows = await ident.allContacts()
  assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 4, 5])
  assert.deepEqual(rows[0], {
    id: 1, email: 'old@x.io', phoneNumber: null, linkedId: null, linkPrecedence: 'primary',
    createdAt: '1970-01-02T00:00:00Z', updatedAt: '1970-01-02T00:00:00Z',
  })
  assert.deepEqual([rows[4].email, rows[4].linkedId, rows[4].linkPrecedence], ['late@x.io', 2, 'secondary'])
  assert.equal(new Date(rows[3].createdAt).getTime(), Date.UTC(2020, 0, 1, 9, 0, 1))
  await ident.close()
})

test('malformed checkouts abort by index or are skipped', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url)
    const rows = async () => (await db.query('SELECT id::int FROM contact ORDER BY id')).map((r) => r.id)
    const checkouts = [
      { email: 'a@x.io', at: '2020-01-01' },
      { email: 'nope', at: '2020-01-02' },
      ['a@x.io', '2020-01-03'], // not an object
      { email: 'b@x.io' },
      { email: 'c@x.io', at: new Date('soon') },
      { email: 'd@x.io', phoneNumber: true, at: '2020-01-04' },
    ]
    await assert.rejects(ident.importCheckouts(checkouts), (e) => {
      assert.equal(e.code, 'INVALID_INPUT')
      assert.equal(e.field, 'checkouts')
      assert.match(e.message, /^invalid checkouts: 5 checkouts refused, nothing imported: record 1: invalid email/)
      assert.match(e.message, /record 2: not an object; record 3: missing time; record 4: unreadable time "Invalid Date"/)
      return true
    })
    assert.deepEqual(await rows(), [])
    const dry = await ident.importCheckouts(checkouts, { onError: 'skip', dryRun: true })
    assert.deepEqual([dry.written, dry.rows, dry.firstId], [false, 1, null])
    assert.deepEqual(await rows(), [])
    const report = await ident.importCheckouts(checkouts, { onError: 'skip' })
    assert.deepEqual([report.written, report.rows, report.rejected], [true, 1, 5])
    assert.deepEqual(report.firstRejected.map((r) => r.record), [1, 2, 3, 4, 5])
    assert.deepEqual(report.firstRejected[2], { record: 3, reason: 'missing time' })
    assert.deepEqual(await rows(), [1])
    await assert.rejects(ident.importCheckouts([{ email: 'e@x.io', at: 0 }]), {
      code: 'CONFLICT',
      message: /already has 1 contact row/,
    })
    assert.equal((await ident.verify()).clean, true)
    await ident.close()
  } finally {
    await db.drop()
  }
})

test('bad arguments reject with their field and import nothing', async () => {
  const ident = await Identity.connect('memory:')
  const cases = [
    [5, undefined, 'checkouts'],
    ['a@x.io', undefined, 'checkouts'],
    [{ email: 'a@x.io', at: 0 }, undefined, 'checkouts'],
    [[{ email: 'a@x.io', at: {} }], undefined, 'checkouts'],
    [[{ email: Symbol('a'), at: 0 }], undefined, 'checkouts'],
    [[], { onError: 'never' }, 'onError'],
    [[], { onError: 1 }, 'onError'],
    [[], { dryRun: 'yes' }, 'request'],
    [[], 7, 'request'],
  ]
  for (const [checkouts, options, field] of cases) {
    await assert.rejects(ident.importCheckouts(checkouts, options), (e) => {
      assert.equal(e.code, 'INVALID_INPUT', String(checkouts))
      assert.equal(e.field, field, e.message)
      assert.match(e.message, /^invalid /)
      return true
    })
  }
  assert.deepEqual(await ident.customers(), [])
  const capped = ident.tenant('capped')
  await capped.setLimits({ emails: 3 })
  await assert.rejects(capped.importCheckouts([{ email: 'a@x.io', at: 0 }]), { code: 'CONFLICT', message: /per-customer limits/ })
  await ident.close()
})

test('imports racing identifies into the same tenants keep every invariant', async () => {
  const db = await freshDatabase()
  try {
    const ident = await Identity.connect(db.url, { maxConnections: 12, acquireTimeoutMs: 30_000 })
    const tenants = ['shop-0', 'shop-1', 'shop-2', 'shop-3']
    const checkouts = Object.fromEntries(tenants.map((t, i) => [t, workload(10 + i, 150)]))
    const racing = Object.fromEntries(tenants.map((t, i) => [t, i % 2 === 0 ? workload(20 + i, 30) : []]))
    const imported = {}
    await Promise.all([
      ...tenants.map(async (t) => {
        try {
          await ident.tenant(t).importCheckouts(checkoutsOf(checkouts[t]))
          imported[t] = true
        } catch (e) {
          assert.equal(e.code, 'CONFLICT', e.message) // a racing identify wrote first
          imported[t] = false
        }
      }),
      ...tenants.flatMap((t) => racing[t].map((r) => ident.tenant(t).identify(r))),
    ])
    assert.deepEqual([imported['shop-1'], imported['shop-3']], [true, true], 'no one raced these')
    const sent = tenants.flatMap((tenant) =>
      [...(imported[tenant] ? checkouts[tenant] : []), ...racing[tenant]].map((r) => ({ ...r, tenant })),
    )
    assertOracle(db, sent)
    for (const t of tenants) assert.equal((await ident.tenant(t).verify()).clean, true, t)
    await ident.close()
  } finally {
    await db.drop()
  }
})
