import { Controller, Delete, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../common/api-error';
import { normaliseObjectType } from '../hubspot/client/object-types';
import { AdminAudit } from '../jobs/admin-audit';
import { JobLifecycle } from '../jobs/job-lifecycle';
import { AdminGuard } from '../portals/auth.guards';
import { PortalsService } from '../portals/portals.service';
import { RetentionRepository } from './retention.repository';

const RECORD_ID = /^[A-Za-z0-9_-]{1,64}$/;

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('v1/admin/portals')
export class RecordPurgeController {
  constructor(
    private readonly portals: PortalsService,
    private readonly retention: RetentionRepository,
    private readonly lifecycle: JobLifecycle,
    private readonly audit: AdminAudit,
  ) {}

  /**
   * Erases what Offload holds about one CRM record (a data subject's request): every job of the
   * portal about it, live ones cancelled first, with their inputs, outputs, write-back journal and
   * events. Audited; the record itself, in HubSpot, is HubSpot's.
   */
  @Delete(':id/records/:objectType/:objectId')
  @ApiOperation({ summary: "Purge every job payload naming a CRM record of the portal (cancels its live jobs); audited" })
  @ApiQuery({ name: 'reason', required: false })
  @ApiQuery({ name: 'actor', required: false })
  async purge(@Param('id') id: string, @Param('objectType') objectType: string, @Param('objectId') objectId: string, @Query() query: Record<string, string>) {
    if (!RECORD_ID.test(objectId)) throw ApiError.validation([{ path: 'objectId', message: 'must be a CRM record id' }]);
    const portal = await this.portals.findById(id);
    const type = normaliseObjectType(objectType);
    const jobs = (await this.retention.jobsOfRecord(portal.id, objectId)).filter((job) => normaliseObjectType(job.objectType) === type);
    await this.lifecycle.cancelMany(jobs.filter((job) => job.live).map((job) => job.id), portal.id);
    const deleted = await this.retention.deleteJobs(jobs.map((job) => job.id));
    await this.audit.record({
      actor: query.actor?.slice(0, 200) || 'admin',
      action: 'records.purge',
      reason: query.reason?.slice(0, 500),
      target: { portalId: portal.id, objectType: type, objectId },
      matched: jobs.length,
      done: deleted.jobs,
    });
    return { objectType: type, objectId, jobs: deleted.jobs, events: deleted.events };
  }
}
