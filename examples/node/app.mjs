// An Express app exposing POST /identify with the wire contract through identity-reconciliation.
// The tenant comes from the X-Tenant-Id header (absent: the default tenant); behind this app's
// own authentication only (it checks no tokens: see the Rust service for tenant tokens).
import express from 'express'
import { Identity } from 'identity-reconciliation'

const STATUS = { INVALID_INPUT: 400, STORE: 503, CLOSED: 503 }

export async function createApp(databaseUrl) {
  const identity = await Identity.connect(databaseUrl)
  const app = express()
  // read the body as text whatever its Content-Type: many clients forget the header
  app.use(express.text({ type: () => true, limit: '16kb' }))

  app.post('/identify', async (req, res) => {
    let body
    try {
      body = JSON.parse(typeof req.body === 'string' ? req.body : '')
    } catch (e) {
      return res.status(400).json({ error: { code: 'malformed_json', message: `request body is not valid JSON: ${e.message}` } })
    }
    try {
      const tenant = req.get('X-Tenant-Id')
      const scoped = tenant === undefined ? identity : identity.tenant(tenant)
      const contact = await scoped.identify(body)
      // both spellings: the original task statement wrote `primaryContatctId`
      res.json({ contact: { ...contact, primaryContatctId: contact.primaryContactId } })
    } catch (e) {
      const status = STATUS[e.code] ?? 500
      if (status === 503) res.set('Retry-After', '2')
      res.status(status).json({
        error: { code: e.code?.toLowerCase() ?? 'internal', message: status === 500 ? 'internal server error' : e.message, field: e.field },
      })
    }
  })

  app.use((err, req, res, next) => {
    // body too large, unreadable body: still a JSON error
    res.status(err.status ?? 500).json({ error: { code: err.type ?? 'internal', message: err.message } })
  })

  return { app, identity }
}
