// POST /identify: the task's endpoint, with its wire contract; POST /api/identify is the same
// route under the path some deployments use.
import { Controller, HttpCode, Post } from '@nestjs/common'
import type { Contact, Identity } from 'identity-reconciliation'
import { JsonBody } from './body.js'
import { InjectIdentity } from './identity.module.js'
import { scoped, TenantId } from './tenant.js'

/** The answer: the consolidated contact (both spellings of the primary id: the original task
 * statement wrote `primaryContatctId`), and what was left out of the request, if anything. */
export interface IdentifyAnswer {
  contact: Omit<Contact, 'ignored'> & { primaryContatctId: number }
  ignored?: Contact['ignored']
}

@Controller()
export class IdentifyController {
  constructor(@InjectIdentity() private readonly identity: Identity) {}

  @Post(['identify', 'api/identify'])
  @HttpCode(200)
  async identify(@JsonBody() body: unknown, @TenantId() tenant?: string): Promise<IdentifyAnswer> {
    // the binding checks the body (an object with email and/or phoneNumber) and names the field
    const { ignored, ...contact } = await scoped(this.identity, tenant).identify(body as never)
    return { contact: { ...contact, primaryContatctId: contact.primaryContactId }, ignored }
  }
}
