import { Module } from '@nestjs/common';
import { HubSpotClientModule } from '../hubspot/client/hubspot-client.module';
import { OutboxRepository } from '../outbox/outbox.repository';
import { PortalsCoreModule } from '../portals/portals-core.module';
import { OpsAdminController } from './ops-admin.controller';

/** The operators' read-outs of the admin API (the pages are mounted on the HTTP server: see ops-page.ts, queue-dashboard.ts). */
@Module({ imports: [HubSpotClientModule, PortalsCoreModule], controllers: [OpsAdminController], providers: [OutboxRepository] })
export class OpsModule {}
