// node server.mjs: serves POST /identify on $HOST:$PORT (127.0.0.1:3000) with $DATABASE_URL
// (sqlite:identity.db). HOST=0.0.0.0 listens on every interface; ERASURE_LOG=<file> appends a
// record of every erase to that file.
import { createApp } from './app.mjs'

const { app } = await createApp(process.env.DATABASE_URL ?? 'sqlite:identity.db', { erasureLog: process.env.ERASURE_LOG || undefined })
const host = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 3000)
const server = app.listen(port, host, () => {
  const { address, port: bound } = server.address()
  console.log(`listening on http://${address}:${bound}`)
})
