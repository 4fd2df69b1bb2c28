// Backups, restores and erasures through the binding, on SQLite files in a temporary folder: a
// backup taken under concurrent identifies holds every customer; the erasure log, read back
// after restoring an older backup, erases again everyone erased since (lookups, suppression,
// the report, the id sequence); backupTo's refusals; malformed records refused, nothing changed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Identity, parseErasureLog, readErasureLog } from './identity.mjs'

// a temporary folder for one test, removed after it
function folder(t) {
  const dir = mkdtempSync(join(tmpdir(), 'identity-erasures-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const sqlite = (path) => `sqlite://${path}`

test('a backup taken while identifies run holds every customer', async (t) => {
  const dir = folder(t)
  const live = await Identity.connect(sqlite(join(dir, 'live.db')))
  const before = Array.from({ length: 200 }, (_, i) => ({ email: `c${i}@x.io`, phoneNumber: `555${i % 50}` }))
  for (const request of before) await live.identify(request)
  const customers = await live.customers()
  const during = Array.from({ length: 200 }, (_, i) => live.identify({ email: `late${i}@x.io`, phoneNumber: `555${i % 70}` }))
  const copy = join(dir, 'copy.db')
  await Promise.all([live.backupTo(copy), ...during])
  assert.ok(statSync(copy).size > 0)
  assert.equal(readFileSync(copy).subarray(0, 16).toString('latin1'), 'SQLite format 3\0')
  const restored = await Identity.connect(sqlite(copy))
  // every customer there when the backup began is there, rows and all, and the copy is healthy
  // (a snapshot: the customers the concurrent identifies grew may have more rows)
  const copied = new Map((await restored.customers()).map((c) => [c.primaryContactId, c]))
  for (const c of customers) {
    const there = copied.get(c.primaryContactId)
    assert.ok(there, `customer ${c.primaryContactId} missing from the copy`)
    for (const email of c.emails) assert.ok(there.emails.includes(email), `${email} missing`)
  }
  for (const request of before) assert.notEqual(await restored.lookup({ email: request.email }), null, request.email)
  const verified = await restored.verify()
  assert.equal(verified.clean, true, JSON.stringify(verified.problems))
  assert.ok(verified.rows >= before.length && verified.rows <= before.length + during.length, String(verified.rows))
  await restored.close()
  await live.close()
})

test('the erasure log erases again, on a restored backup, everyone erased since', async (t) => {
  const dir = folder(t)
  const log = join(dir, 'erasures.jsonl')
  const live = await Identity.connect(sqlite(join(dir, 'live.db')), { erasureLog: log })
  await live.identify({ email: 'doc@x.io', phoneNumber: '555' })
  await live.identify({ email: 'emmett@x.io', phoneNumber: '555' }) // 2, Doc's customer
  await live.identify({ email: 'biff@x.io', phoneNumber: '999' }) // 3
  await live.backupTo(join(dir, 'nightly.db'))
  await live.identify({ email: 'marty@x.io', phoneNumber: '777' }) // 4 and 5: after the backup
  await live.identify({ email: 'lorraine@x.io', phoneNumber: '777' })
  const receipts = [await live.erase(2, { suppress: true }), await live.erase(5, { suppress: true })]
  assert.deepEqual(receipts.map((r) => r.contactIds), [[1, 2], [4, 5]])
  await live.close()

  const records = readErasureLog(log)
  assert.deepEqual(records.map((r) => [r.tenantId, r.customerId, r.contactIds, r.suppressed]), [['default', 1, [1, 2], true], ['default', 4, [4, 5], true]])
  assert.deepEqual(records.map((r) => r.erasedAt), receipts.map((r) => r.erasedAt))
  for (const r of records) {
    assert.deepEqual(r.rows.map((row) => row.id), r.contactIds)
    assert.ok(r.rows.every((row) => !Number.isNaN(new Date(row.createdAt).getTime())), JSON.stringify(r.rows))
    assert.deepEqual(r.digests.map((d) => d.kind), ['email', 'email', 'phone'])
    assert.ok(r.digests.every((d) => /^[0-9a-f]{64}$/.test(d.digest)) && /^[0-9a-f]{16}$/.test(r.secret))
    assert.ok(!JSON.stringify(r).includes('x.io'), 'no personal data')
  }
  // the log's text reads the same through parseErasureLog
  assert.deepEqual(parseErasureLog(readFileSync(log, 'utf8')), records)

  const restored = await Identity.connect(sqlite(join(dir, 'nightly.db')))
  assert.notEqual(await restored.lookup({ email: 'doc@x.io' }), null, 'the backup holds Doc')
  assert.deepEqual(await restored.erasures(), [])
  const report = await restored.reapplyErasures(records)
  assert.deepEqual(report, { records: 2, applied: 2, alreadyErased: 0, erasedIds: [1, 2], reusedIds: [], suppressed: 6 })
  // gone: no customer holds Doc's values, and a lookup by them alone finds them suppressed
  assert.equal(await restored.lookup({ email: 'doc@x.io', phoneNumber: '1' }), null)
  assert.equal(await restored.lookup({ email: 'emmett@x.io', phoneNumber: '1' }), null)
  await assert.rejects(restored.lookup({ phoneNumber: '555' }), { code: 'BLOCKED_VALUE', fields: ['phoneNumber'] })
  assert.deepEqual((await restored.allContacts()).map((r) => r.id), [3])
  // the records are the restored store's now: the same receipts, and applying them again is a no-op
  assert.deepEqual((await restored.erasures()).map((r) => [r.customerId, r.contactIds, r.erasedAt]), records.map((r) => [r.customerId, r.contactIds, r.erasedAt]))
  assert.deepEqual(await restored.erase(1), receipts[0])
  assert.deepEqual(await restored.reapplyErasures(records), { records: 2, applied: 0, alreadyErased: 2, erasedIds: [], reusedIds: [], suppressed: 0 })
  // suppressed again, the values of rows the backup never held too; the sequence is past every
  // id the log names, so no new row takes an erased id
  const doc = await restored.identify({ email: 'doc@x.io', phoneNumber: '1234' })
  assert.deepEqual(doc.ignored, [{ field: 'email', reason: 'suppressed' }])
  assert.equal(doc.primaryContactId, 6)
  const marty = await restored.identify({ email: 'marty@x.io', phoneNumber: '4321' })
  assert.deepEqual(marty.ignored, [{ field: 'email', reason: 'suppressed' }])
  assert.equal((await restored.verify()).clean, true)
  await restored.close()
})

test('backupTo refuses an existing file unless asked, and stores it cannot copy', async (t) => {
  const dir = folder(t)
  const live = await Identity.connect(sqlite(join(dir, 'live.db')))
  await live.identify({ email: 'doc@x.io' })
  const copy = join(dir, 'copy.db')
  await live.backupTo(copy)
  await live.identify({ email: 'biff@x.io' })
  await assert.rejects(live.backupTo(copy), (e) => e.code === 'CONFLICT' && e.retryable === false)
  await assert.rejects(live.backupTo(copy, { overwrite: false }), { code: 'CONFLICT' })
  const readCopy = async () => {
    const opened = await Identity.connect(sqlite(copy))
    try {
      return (await opened.customers()).map((c) => c.emails[0])
    } finally {
      await opened.close()
    }
  }
  assert.deepEqual(await readCopy(), ['doc@x.io'], 'the refused backup left the file alone')
  await live.backupTo(copy, { overwrite: true })
  assert.deepEqual(await readCopy(), ['doc@x.io', 'biff@x.io'])
  for (const [path, options, field] of [[42, undefined, 'path'], ['', undefined, 'path'], [undefined, undefined, 'path'], [copy, { overwrite: 'yes' }, 'request'], [copy, 'x', 'request']]) {
    await assert.rejects(live.backupTo(path, options), (e) => e.code === 'INVALID_INPUT' && e.field === field, `${path} ${JSON.stringify(options)}`)
  }
  await live.close()
  const memory = await Identity.connect('memory:')
  await assert.rejects(memory.backupTo(join(dir, 'memory.db')), { code: 'CONFLICT' })
  await memory.close()
  await assert.rejects(live.backupTo(join(dir, 'late.db')), { code: 'CLOSED' })
})

test('malformed records, another tenant\'s, and bad logs are refused and change nothing', async (t) => {
  const dir = folder(t)
  // a record of this very store: erased after a backup, which is then the store to reapply to
  const live = await Identity.connect(sqlite(join(dir, 'live.db')))
  await live.identify({ email: 'doc@x.io', phoneNumber: '555' })
  await live.backupTo(join(dir, 'target.db'))
  await live.erase(1, { suppress: true })
  const [good] = await live.erasures()
  await live.close()
  const ident = await Identity.connect(sqlite(join(dir, 'target.db')))
  const state = async () => [await ident.allContacts(), await ident.erasures(), await ident.customers()]
  const before = await state()
  const cyclic = { ...good }
  cyclic.rows = [{ id: 1, createdAt: null, again: cyclic }]
  const bad = [
    [good, 'must be an array'],
    [[cyclic], 'record 0: nested too deeply'],
    ['x', 'must be an array'],
    [[null], 'record 0: '],
    [[good, {}], 'record 1: missing field'],
    [[good, { ...good, rows: [] }], 'record 1: contact 1 is missing from rows'],
    [[{ ...good, customerId: '1' }], 'record 0: invalid type'],
    [[{ ...good, extra: true }], 'record 0: unknown field `extra`'],
    [[{ ...good, digests: [{ kind: 'email', digest: 'zz' }] }], 'record 0: a digest must be 64 hex digits'],
    [[{ ...good, secret: () => 1 }], 'record 0: holds a value JSON cannot hold'],
    [[{ ...good, tenantId: 'shopB' }], 'record 0 is an erasure of tenant shopB'],
  ]
  for (const [records, message] of bad) {
    await assert.rejects(ident.reapplyErasures(records), (e) => {
      assert.equal(e.code, 'INVALID_INPUT', e.message)
      assert.equal(e.field, 'erasures')
      assert.ok(e.message.startsWith('invalid erasures: ') && e.message.includes(message), e.message)
      return true
    })
  }
  assert.deepEqual(await state(), before, 'a refused reapply changed the store')
  // the good record applies through the tenant it names
  assert.deepEqual((await ident.reapplyErasures([good])).erasedIds, [1])

  // readErasureLog: a missing file, a line that is no record (named), a line cut short (left out)
  assert.throws(() => readErasureLog(join(dir, 'none.jsonl')), (e) => e.code === 'STORE' && e.message.includes('cannot be read'))
  assert.throws(() => readErasureLog(7), { code: 'INVALID_INPUT', field: 'path' })
  const line = JSON.stringify(good)
  const log = join(dir, 'log.jsonl')
  writeFileSync(log, `${line}\n{"x":1}\n`)
  assert.throws(() => readErasureLog(log), (e) => e.code === 'INVALID_INPUT' && e.field === 'erasures' && e.message.includes('line 2: unknown field `x`'))
  writeFileSync(log, `${line}\n\n${line.slice(0, 20)}`)
  assert.deepEqual(readErasureLog(log), [good])
  assert.throws(() => parseErasureLog({}), { code: 'INVALID_INPUT', field: 'erasures' })
  // the connect option: a file path, else refused before anything opens
  for (const erasureLog of [5, true, '', {}]) {
    await assert.rejects(Identity.connect('memory:', { erasureLog }), { code: 'INVALID_INPUT', field: 'erasureLog' })
  }
  await assert.rejects(Identity.connect('memory:', { erasureLog: join(dir, 'no-such-dir', 'log.jsonl') }), { code: 'STORE' })
  await ident.close()
})
