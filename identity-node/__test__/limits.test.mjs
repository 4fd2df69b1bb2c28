// Per-customer caps through the binding: values past a cap left out and merges past one
// withheld (reason 'limit'), the caps as settings, bad caps rejected with field 'limits'.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Identity } from './identity.mjs'

test('caps leave values out and withhold merges', async () => {
  const ident = await Identity.connect('sqlite::memory:')
  assert.deepEqual((await ident.settings()).limits, { emails: null, phones: null })
  const settings = await ident.setLimits({ emails: 2, phones: 1 })
  assert.deepEqual(settings, { tenantId: 'default', phoneRegion: null, limits: { emails: 2, phones: 1 } })
  assert.deepEqual(await ident.settings(), settings)
  const doc = (await ident.identify({ email: 'a@x.io', phoneNumber: '1' })).primaryContactId
  const c = await ident.identify({ email: 'a@x.io', phoneNumber: '2' })
  assert.deepEqual([c.phoneNumbers, c.ignored], [['1'], [{ field: 'phoneNumber', reason: 'limit' }]])
  const biff = (await ident.identify({ email: 'z@x.io', phoneNumber: '9' })).primaryContactId
  const withheld = await ident.identify({ email: 'z@x.io', phoneNumber: '1' })
  assert.deepEqual([withheld.primaryContactId, withheld.ignored[0].reason], [biff, 'limit'])
  assert.deepEqual((await ident.tenant('other').settings()).limits, { emails: null, phones: null })
  await ident.setLimits({})
  assert.equal((await ident.identify({ email: 'z@x.io', phoneNumber: '1' })).primaryContactId, doc)
  assert.equal((await ident.verify()).clean, true)
  await ident.close()
})

test('bad caps reject naming limits and change nothing', async () => {
  const ident = await Identity.connect('memory:')
  for (const bad of [{ emails: 0 }, { phones: -1 }, { emails: 2_000_000 }, { emails: 1.5 }, { phones: '3' }, { emails: true }, null, 'x', 3]) {
    await assert.rejects(ident.setLimits(bad), { code: 'INVALID_INPUT', field: 'limits' }, JSON.stringify(bad))
  }
  assert.deepEqual((await ident.settings()).limits, { emails: null, phones: null })
  await ident.close()
})
