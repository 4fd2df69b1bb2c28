// What a restore needs, as the Rust service serves it: GET /admin/erasures (the tenant's erasure
// records, JSON Lines), POST /admin/erasures/reapply (such lines, applied again to a restored
// backup) and GET /admin/backup (a copy of the whole SQLite database). They check no tokens:
// mount them behind your own guard (see the README).
import { Controller, Get, Header, HttpCode, Post, StreamableFile } from '@nestjs/common'
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseErasureLog, type Identity, type ReapplyReport } from 'identity-reconciliation'
import { TextBody } from './body.js'
import { InjectIdentity } from './identity.module.js'
import { scoped, TenantId } from './tenant.js'

@Controller('admin')
export class RestoreController {
  constructor(@InjectIdentity() private readonly identity: Identity) {}

  /** One erasure record per line: ids, times and keyed hashes, no email or phone number. */
  @Get('erasures')
  @Header('Content-Type', 'application/x-ndjson')
  async erasures(@TenantId() tenant?: string): Promise<string> {
    const records = await scoped(this.identity, tenant).erasures()
    return records.map((r) => JSON.stringify(r) + '\n').join('')
  }

  /** The records as an erasure log holds them, one per line: the binding reads them (a line that
   * is no record is invalid_input `erasures`, naming it), the core applies them in one
   * transaction (another tenant's record, or digests under another secret: nothing changes). */
  @Post('erasures/reapply')
  @HttpCode(200)
  reapply(@TextBody() text: string, @TenantId() tenant?: string): Promise<ReapplyReport> {
    const handle = scoped(this.identity, tenant)
    return handle.reapplyErasures(parseErasureLog(text))
  }

  /** The whole SQLite database (every tenant), copied while it serves into a temporary folder
   * and sent from there; 409 conflict on PostgreSQL (pg_dump backs it up) and memory:. */
  @Get('backup')
  async backup(@TenantId() tenant?: string): Promise<StreamableFile> {
    const dir = await mkdtemp(join(tmpdir(), 'identity-backup-'))
    let file: FileHandle | undefined
    try {
      const path = join(dir, 'identity-backup.db')
      await scoped(this.identity, tenant).backupTo(path)
      file = await open(path)
      const { size } = await file.stat()
      return new StreamableFile(file.createReadStream(), {
        type: 'application/vnd.sqlite3',
        disposition: 'attachment; filename="identity-backup.db"',
        length: size,
      })
    } catch (e) {
      await file?.close()
      throw e
    } finally {
      // the open file outlives its name: the folder goes now, the bytes once they are sent
      await rm(dir, { recursive: true, force: true })
    }
  }
}
