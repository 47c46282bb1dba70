import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../common/api-error';
import { IdempotencyConflictError } from '../../common/domain-errors';
import { crmRecordId, hubspotAccountId } from '../../common/hubspot-id-schemas';
import { requestSchema } from '../../common/request-schema';
import { isTerminal } from '../../jobs/job-record';
import { JobsService } from '../../jobs/jobs.service';
import { PortalsService } from '../../portals/portals.service';
import { HubSpotGateway } from '../client/hubspot-gateway';
import { normaliseObjectType } from '../client/object-types';
import { blockExpiration, stepCompletion } from '../client/workflow-step';
import { HubSpotRequestVerifier } from './hubspot-request-verifier';
import { workflowInput } from './workflow-inputs';

/** What HubSpot POSTs to a custom workflow action's URL; fields HubSpot may add later are let through. */
const actionRequest = requestSchema(
  Type.Object({
    callbackId: Type.String({ minLength: 1, maxLength: 255, description: 'Unique per execution of the step; completes it later' }),
    origin: Type.Object({
      portalId: hubspotAccountId("The HubSpot account's id"),
      actionDefinitionId: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
      actionDefinitionVersion: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
    }),
    context: Type.Optional(Type.Object({}, { additionalProperties: true })),
    object: Type.Optional(
      Type.Object({
        objectId: crmRecordId(),
        objectType: Type.String({ minLength: 1, maxLength: 64, description: 'CONTACT, COMPANY, DEAL, TICKET, ...' }),
        properties: Type.Optional(
          Type.Object(
            {},
            { additionalProperties: true, maxProperties: 200, description: "The record's properties the definition's objectRequestOptions asked for" },
          ),
        ),
      }),
    ),
    inputFields: Type.Optional(
      Type.Object({}, { additionalProperties: true, description: "The step's inputs, checked against the handler's inputSchema" }),
    ),
  }),
);

/** Record properties as HubSpot keeps them: text, or null when unset. */
function propertyValues(properties: Record<string, unknown>): Record<string, string | null> {
  return Object.fromEntries(
    Object.entries(properties).map(([name, value]) => [name, value === null || value === undefined ? null : typeof value === 'string' ? value : JSON.stringify(value)]),
  );
}

/**
 * Custom workflow actions defined by the HubSpot app: the step blocks while Offload runs the job,
 * and is completed through HubSpot's callbacks API when the job ends.
 */
@ApiTags('hubspot')
@Controller('v1/hubspot/actions')
export class HubSpotActionsController {
  constructor(
    private readonly verifier: HubSpotRequestVerifier,
    private readonly portals: PortalsService,
    private readonly jobs: JobsService,
    private readonly gateway: HubSpotGateway,
  ) {}

  @Post(':type')
  @HttpCode(200)
  @ApiOperation({
    summary: "A custom workflow action's request, signed by HubSpot (v3, or v2) with the app's client secret (HUBSPOT_CLIENT_SECRET)",
    description:
      'Enqueues a live job of the type for the portal of origin.portalId, its input from inputFields and its object from ' +
      'object, idempotent per callbackId (a retried request finds the same job). Answers at once with ' +
      'hs_execution_state BLOCK; when the job ends, the step is completed through the callbacks API: SUCCESS with the ' +
      'outputs, or FAIL_CONTINUE with an offload_error output ("code: message"). A request for a job that has already ' +
      'ended is answered with that completion directly.',
  })
  @ApiBody({ schema: actionRequest.openApi })
  @ApiResponse({ status: 200, description: '{"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1DT1H"}}' })
  @ApiResponse({ status: 401, description: 'The signature is missing, wrong or stale' })
  @ApiResponse({ status: 404, description: 'No portal is registered for origin.portalId' })
  @ApiResponse({ status: 503, description: 'HUBSPOT_CLIENT_SECRET is not configured' })
  async run(@Param('type') type: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    this.verifier.verify(request, ['v3', 'v2']);
    const action = actionRequest.parse(body);
    const handler = this.jobs.handlerFor(type);
    const portal = await this.portals.findByHubSpotPortalId(action.origin.portalId);
    if (!this.gateway.canConnect(portal)) {
      const message = `Portal ${portal.hubspotPortalId} has no HubSpot credentials, so Offload could never complete the step`;
      throw new ApiError(409, 'conflict', message);
    }
    const result = await this.jobs.enqueueRequest(portal, {
      type,
      input: workflowInput(action.inputFields ?? {}, handler.inputSchema, { declaredOnly: false }),
      object: action.object && {
        type: normaliseObjectType(action.object.objectType),
        id: String(action.object.objectId),
        ...(action.object.properties ? { properties: propertyValues(action.object.properties) } : {}),
      },
      callbackId: action.callbackId,
      priority: 'live',
      completesWorkflowStep: true,
    });
    if ('job' in result && isTerminal(result.job.status)) {
      const { id, status, output, error } = result.job;
      return { outputFields: stepCompletion({ id, status, output: output ?? null, error: error ?? null }) };
    }
    // A conflict means this callback's job exists already (its inputs drifted): it completes the step.
    if ('error' in result && !(result.error instanceof IdempotencyConflictError)) throw result.error;
    return { outputFields: { hs_execution_state: 'BLOCK', hs_expiration_duration: blockExpiration(handler.timeoutMs, handler.retry) } };
  }
}
