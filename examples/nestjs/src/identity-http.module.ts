// IdentityHttpModule: the service's routes on Nest, answering as the Rust service does. Import it
// beside IdentityModule.forRoot(...); `withAdmin: false` mounts POST /identify alone.
import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common'
import { APP_FILTER } from '@nestjs/core'
import { AdminController } from './admin.controller.js'
import { TextBodyMiddleware } from './body.js'
import { IdentityExceptionFilter } from './errors.js'
import { IdentifyController } from './identify.controller.js'
import { MetricsController } from './metrics.controller.js'
import { RestoreController } from './restore.controller.js'
import { WebhooksController } from './webhooks.controller.js'

/** Which routes to mount. */
export interface IdentityHttpOptions {
  /** The settings, /metrics and /admin routes, the restore routes included (default true). They
   * check no tokens: guard them. */
  withAdmin?: boolean
}

@Module({})
export class IdentityHttpModule implements NestModule {
  /** POST /identify and /api/identify, and unless `withAdmin: false` the admin routes. */
  static register({ withAdmin = true }: IdentityHttpOptions = {}): DynamicModule {
    return {
      module: IdentityHttpModule,
      controllers: withAdmin
        ? [IdentifyController, AdminController, WebhooksController, RestoreController, MetricsController]
        : [IdentifyController],
      providers: [{ provide: APP_FILTER, useClass: IdentityExceptionFilter }],
    }
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TextBodyMiddleware).forRoutes('*path')
  }
}
