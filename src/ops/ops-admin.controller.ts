import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HubSpotGateway } from '../hubspot/client/hubspot-gateway';
import { OutboxRepository } from '../outbox/outbox.repository';
import { AdminGuard } from '../portals/auth.guards';

/** What an operator reads to see where work waits: a portal's HubSpot budget, and the outbox's backlog. */
@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('v1/admin')
export class OpsAdminController {
  constructor(
    private readonly gateway: HubSpotGateway,
    private readonly outbox: OutboxRepository,
  ) {}

  @Get('portals/:id/budget')
  @ApiOperation({ summary: "The portal's use of its HubSpot budget: the current 10 s window, today, and any 429 pause" })
  budget(@Param('id') id: string) {
    return this.gateway.budgetUse(id);
  }

  @Get('outbox')
  @ApiOperation({ summary: 'Job events waiting for Kafka, the age of the oldest, and published ones kept' })
  backlog() {
    return this.outbox.backlog();
  }
}
