import { Body, Controller, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/api-error';
import { bearerToken } from '../../common/bearer-token';
import { canonicalJson } from '../../common/canonical-json';
import { crmRecordId } from '../../common/hubspot-id-schemas';
import { requestSchema } from '../../common/request-schema';
import { sha256Hex } from '../../common/sha256';
import { JOB_PRIORITIES, JobPriority } from '../../jobs/job-record';
import { JobsService } from '../../jobs/jobs.service';
import { AuthenticatedPortal, PortalsService } from '../../portals/portals.service';
import { normaliseObjectType } from '../client/object-types';
import { HubSpotRequestVerifier } from './hubspot-request-verifier';
import { workflowInput } from './workflow-inputs';

const webhookPayload = requestSchema(
  Type.Object(
    {
      hs_object_id: Type.Optional(crmRecordId('The enrolled record; with objectType, the object of the job')),
    },
    { additionalProperties: true, description: "The enrolled record's properties, as the workflow sends them" },
  ),
);

const webhookQuery = requestSchema(
  Type.Object(
    {
      portalId: Type.Optional(Type.String({ pattern: '^\\d{1,15}$' })),
      objectType: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
      writeback: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
      priority: Type.Optional(Type.Unsafe<JobPriority>({ type: 'string', enum: [...JOB_PRIORITIES] })),
    },
    { additionalProperties: false },
  ),
);

/** The workflow "send a webhook" action: it posts the enrolled record's properties, and takes no answer back. */
@ApiTags('hubspot')
@ApiBearerAuth()
@Controller('v1/hubspot/webhooks')
export class HubSpotWebhooksController {
  constructor(
    private readonly verifier: HubSpotRequestVerifier,
    private readonly portals: PortalsService,
    private readonly jobs: JobsService,
  ) {}

  @Post(':type')
  @ApiOperation({
    summary: 'A workflow "send a webhook" request: enqueues a job of the type for the enrolled record',
    description:
      'Authenticated by the portal API key (Authorization: Bearer), or by a HubSpot signature made with the app client ' +
      'secret: v3 when X-HubSpot-Signature-v3 is present, otherwise v2 (X-HubSpot-Signature). A signed request names its ' +
      'portal with ?portalId=<HubSpot account id>, which both signatures cover. A 429 from this endpoint gives Retry-After ' +
      'in milliseconds, as workflow webhooks read it. The input ' +
      "is the payload's properties that the handler's inputSchema declares (text read as the declared number or " +
      'boolean; the rest ignored); the object is hs_object_id of type ?objectType (contacts by default). The idempotency ' +
      'key is derived from the portal, type, object and the whole payload, so a redelivery finds the same job. ' +
      'Answers as POST /v1/jobs does.',
  })
  @ApiQuery({ name: 'portalId', required: false, description: "The HubSpot account's id; required for a signed request" })
  @ApiQuery({ name: 'objectType', required: false, description: 'The type of hs_object_id: contacts (default), companies, deals, ...' })
  @ApiQuery({ name: 'writeback', required: false, description: "true: write the job's outputs back to the record" })
  @ApiQuery({ name: 'priority', required: false, description: 'live (default) or bulk' })
  @ApiBody({ schema: webhookPayload.openApi })
  @ApiResponse({ status: 202, description: 'A new job was queued' })
  @ApiResponse({ status: 200, description: 'The same payload was delivered before: its job, no new work' })
  async deliver(
    @Param('type') type: string,
    @Req() request: FastifyRequest,
    @Query() rawQuery: Record<string, unknown>,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    // Credentials first: an unauthenticated caller learns nothing about what the query should hold.
    const caller = await this.authenticate(request);
    const query = webhookQuery.parse(rawQuery);
    const portal = caller === 'signed' ? await this.signedPortal(query.portalId) : caller;
    const handler = this.jobs.handlerFor(type);
    const payload = webhookPayload.parse(body);
    const object =
      payload.hs_object_id === undefined
        ? undefined
        : { type: normaliseObjectType(query.objectType ?? 'contacts'), id: String(payload.hs_object_id) };
    const delivery = canonicalJson([portal.id, type, object?.type ?? '', object?.id ?? '', payload]);
    const result = await this.jobs.enqueueRequest(portal, {
      type,
      input: workflowInput(payload, handler.inputSchema, { declaredOnly: true }),
      object,
      idempotencyKey: `hubspot-webhook-${sha256Hex(delivery).slice(0, 40)}`,
      writeback: query.writeback === 'true',
      priority: query.priority ?? 'live',
    });
    if ('error' in result) throw result.error;
    reply.status(result.status);
    return result.job;
  }

  /** The portal of the request's API key, or 'signed' for a request HubSpot signed (its portal is named by the query). */
  private async authenticate(request: FastifyRequest): Promise<AuthenticatedPortal | 'signed'> {
    const apiKey = bearerToken(request);
    if (apiKey) {
      const portal = await this.portals.authenticate(apiKey);
      if (!portal) throw ApiError.unauthorized('The portal API key is unknown or revoked');
      return portal;
    }
    // v3 when its header is there; otherwise v2, which HubSpot's workflow and custom action requests carry.
    const version = request.headers['x-hubspot-signature-v3'] !== undefined ? 'v3' : request.headers['x-hubspot-signature'] !== undefined ? 'v2' : undefined;
    if (!version) throw ApiError.unauthorized('A portal API key (Authorization: Bearer) or a HubSpot signature (v3, or v2) is required');
    this.verifier.verify(request, [version]);
    return 'signed';
  }

  private async signedPortal(hubspotPortalId: string | undefined): Promise<AuthenticatedPortal> {
    if (hubspotPortalId === undefined) {
      throw ApiError.validation([{ path: 'portalId', message: 'is required (as a query parameter) when the request is signed' }]);
    }
    return this.portals.findByHubSpotPortalId(hubspotPortalId);
  }
}
