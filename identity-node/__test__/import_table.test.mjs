// A table import through the binding: rows as an ORM's findMany() gives them (Date times,
// bigint and string ids), ids kept, the report's outcome (changed customers, moved rows),
// refusals with their code and field, and renumbering. The shared vectors
// (tests/vectors/import_table.json) cover the behaviour.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'

const T0 = Date.UTC(2023, 3, 1, 10)

// a deployment's rows, as Prisma's findMany() answers them
const table = () => [
  { id: 11, email: 'doc@hillvalley.edu', phoneNumber: '555', linkedId: null, linkPrecedence: 'primary', createdAt: new Date(T0), deletedAt: null },
  { id: 12n, email: 'emmett@hillvalley.edu', phoneNumber: 555, linkedId: '11', createdAt: new Date(T0 + 60_000), deletedAt: null },
  { id: 14, email: 'Doc@HillValley.edu', phoneNumber: null, linkedId: null, createdAt: '2023-04-01 10:02:00+00' },
  { id: 15, email: 'biff@hillvalley.edu', createdAt: new Date(T0), deletedAt: new Date(T0) },
  { id: 16, email: 'not-an-email', createdAt: new Date(T0) },
]

test('rows keep their ids and the report says what changed', async () => {
  const ident = await Identity.connect('memory:')
  await assert.rejects(ident.importTableRows(table()), (e) => {
    assert.equal(e.code, 'INVALID_INPUT')
    assert.equal(e.field, 'table')
    assert.match(e.message, /row 16: invalid email/)
    return true
  })
  const report = await ident.importTableRows(table(), { onError: 'skip' })
  assert.deepEqual([report.rows, report.customers, report.folded, report.firstId], [2, 1, 1, 11])
  assert.deepEqual(report.firstRejected, [{ id: 16, reason: "invalid email: must contain exactly one '@'" }])
  const outcome = report.table
  assert.deepEqual([outcome.idsKept, outcome.highestId, outcome.deletedRows], [true, 16, 1])
  assert.deepEqual(outcome.changedCustomers[0], { tablePrimaryId: 14, primaryContactId: 11, change: 'normalized' })
  assert.deepEqual(outcome.movedRows.map((m) => [m.id, m.contactId, m.primaryContactId, m.row, m.change]), [
    [14, null, 11, 'folded', 'normalized'],
    [15, null, null, 'deleted', 'leftOut'],
    [16, null, null, 'refused', 'leftOut'],
  ])
  assert.equal((await ident.lookup({ email: 'emmett@hillvalley.edu' })).primaryContactId, 11)
  // new rows continue above the table's highest id
  assert.equal((await ident.identify({ email: 'marty@hillvalley.edu' })).primaryContactId, 17)
  assert.equal((await ident.verify()).clean, true)
  await ident.close()
})

test('rows that are no table reject with their field and import nothing', async () => {
  const ident = await Identity.connect('memory:')
  const at = new Date(T0)
  for (const rows of [
    'not rows',
    [{ id: 1, email: 'a@x.io', createdAt: { when: 'now' } }],
    [{ email: 'a@x.io', createdAt: at }],
    [{ id: 1, email: 'a@x.io', createdAt: at }, { id: 1, email: 'b@x.io', createdAt: at }],
  ]) {
    await assert.rejects(ident.importTableRows(rows), (e) => e.code === 'INVALID_INPUT' && e.field === 'table')
  }
  await assert.rejects(ident.importTableRows([], { renumber: 'yes' }), (e) => e.field === 'request')
  assert.deepEqual(await ident.allContacts(), [])
  await ident.close()
})

test('a store that gave out the ids refuses them and renumbers on request', async () => {
  const ident = await Identity.connect('memory:')
  await ident.tenant('other').identify({ email: 'first@x.io' })
  const rows = [{ id: 1, email: 'a@x.io', createdAt: new Date(T0) }, { id: 2, email: 'b@x.io', createdAt: new Date(T0) }]
  await assert.rejects(ident.importTableRows(rows), (e) => e.code === 'CONFLICT')
  const report = await ident.importTableRows(rows, { renumber: true })
  assert.equal(report.table.idsKept, false)
  assert.deepEqual(report.table.movedRows.map((m) => [m.id, m.contactId]), [[1, 2], [2, 3]])
  const dry = await ident.tenant('third').importTableRows(rows, { dryRun: true, renumber: true })
  assert.deepEqual([dry.written, dry.firstId], [false, null])
  await ident.close()
})
