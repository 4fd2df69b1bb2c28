// node dist/main.js: serves POST /identify and the admin routes on $HOST:$PORT (127.0.0.1:3000)
// with $DATABASE_URL (sqlite:identity.db). HOST=0.0.0.0 listens on every interface; ERASURE_LOG=<file>
// appends a record of every erase to that file.
import { createApp } from './app.js'

const app = await createApp(process.env.DATABASE_URL ?? 'sqlite:identity.db', { erasureLog: process.env.ERASURE_LOG || undefined })
const host = process.env.HOST ?? '127.0.0.1'
await app.listen(Number(process.env.PORT ?? 3000), host)
const address = app.getHttpServer().address() as { address: string; port: number }
console.log(`listening on http://${address.address}:${address.port}`)
