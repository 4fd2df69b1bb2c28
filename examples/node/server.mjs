// node server.mjs — serves POST /identify on $PORT (3000) with $DATABASE_URL (sqlite:identity.db)
import { createApp } from './app.mjs'

const { app } = await createApp(process.env.DATABASE_URL ?? 'sqlite:identity.db')
const port = Number(process.env.PORT ?? 3000)
app.listen(port, () => console.log(`listening on http://127.0.0.1:${port}`))
