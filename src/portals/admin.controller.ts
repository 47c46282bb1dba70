import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Type } from '@sinclair/typebox';
import { requestSchema } from '../common/request-schema';
import { AdminGuard } from './auth.guards';
import { Portal } from './portal.entity';
import { PortalsService } from './portals.service';

const propertyMappingsBody = requestSchema(
  Type.Record(
    Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    Type.Record(
      Type.String({ pattern: '^[a-z][a-z0-9_]{0,99}$' }),
      Type.Union([Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_]+$' }), Type.Null()]),
      { additionalProperties: false },
    ),
    {
      additionalProperties: false,
      description:
        'Where job outputs are written back, by CRM object type (contacts, CONTACT, 0-1, ...): output name -> HubSpot ' +
        'property name, or null to leave the output out. Outputs not named go to the property of the same name.',
    },
  ),
);

const createPortalBody = requestSchema(
  Type.Object(
    {
      hubspotPortalId: Type.Integer({ minimum: 1, description: "HubSpot's account id" }),
      name: Type.String({ minLength: 1, maxLength: 200 }),
      hubspotAccessToken: Type.Optional(
        Type.String({ minLength: 1, maxLength: 4096, description: 'Private app token; stored encrypted, never returned' }),
      ),
      rateLimit: Type.Optional(
        Type.Object(
          {
            requestsPer10s: Type.Integer({
              minimum: 1,
              maximum: 100_000,
              description: "The portal's HubSpot API budget per rolling 10 s (100 when unset: Free/Starter private apps)",
            }),
            daily: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: "The HubSpot account's daily API limit" }),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  ),
);

function portalView(portal: Portal) {
  return {
    id: portal.id,
    hubspotPortalId: Number(portal.hubspotPortalId),
    name: portal.name,
    hasHubspotAccessToken: portal.hubspotAccessTokenEnc !== null,
    rateLimit: portal.rateLimitPer10s
      ? { requestsPer10s: portal.rateLimitPer10s, ...(portal.rateLimitDaily ? { daily: portal.rateLimitDaily } : {}) }
      : null,
    propertyMappings: portal.propertyMappings,
    createdAt: portal.createdAt,
  };
}

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('v1/admin/portals')
export class AdminController {
  constructor(private readonly portals: PortalsService) {}

  @Post()
  @ApiOperation({ summary: 'Register a portal; answers its first API key, shown only this once' })
  @ApiBody({ schema: createPortalBody.openApi })
  async create(@Body() body: unknown) {
    const { portal, apiKey } = await this.portals.create(createPortalBody.parse(body));
    return { ...portalView(portal), apiKey };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A portal (credentials are never returned)' })
  async get(@Param('id') id: string) {
    return portalView(await this.portals.findById(id));
  }

  @Put(':id/property-mappings')
  @ApiOperation({ summary: "Replace where the portal's job outputs are written back" })
  @ApiBody({ schema: propertyMappingsBody.openApi })
  async setPropertyMappings(@Param('id') id: string, @Body() body: unknown) {
    return portalView(await this.portals.setPropertyMappings(id, propertyMappingsBody.parse(body)));
  }

  @Get(':id/api-keys')
  @ApiOperation({ summary: "The portal's live API keys (prefixes only)" })
  async listKeys(@Param('id') id: string) {
    const keys = await this.portals.listKeys(id);
    return keys.map((key) => ({ id: key.id, prefix: key.keyPrefix, createdAt: key.createdAt }));
  }

  @Post(':id/api-keys')
  @ApiOperation({ summary: 'Issue another API key (rotation: older keys keep working until deleted)' })
  createKey(@Param('id') id: string) {
    return this.portals.createKey(id);
  }

  @Delete(':id/api-keys/:keyId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key' })
  async revokeKey(@Param('id') id: string, @Param('keyId') keyId: string): Promise<void> {
    await this.portals.revokeKey(id, keyId);
  }
}
