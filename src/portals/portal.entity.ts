import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/**
 * Where a portal writes job outputs, by CRM object type (contacts, companies, ...): output name ->
 * property name, or null to leave that output out. An output not named here goes to the property
 * of the same name.
 */
export type PropertyMappings = Record<string, Record<string, string | null>>;

@Entity('portals')
export class Portal {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** HubSpot's account id; bigint in PostgreSQL, kept as a string so no id is ever rounded. */
  @Column({ name: 'hubspot_portal_id', type: 'bigint' })
  hubspotPortalId: string;

  @Column({ type: 'text' })
  name: string;

  /** A private app token, or an OAuth access token when a refresh token is stored too. */
  @Column({ name: 'hubspot_access_token_enc', type: 'text', nullable: true })
  hubspotAccessTokenEnc: string | null;

  @Column({ name: 'hubspot_refresh_token_enc', type: 'text', nullable: true })
  hubspotRefreshTokenEnc: string | null;

  /** When the OAuth access token expires; null for a private app token, which does not. */
  @Column({ name: 'hubspot_token_expires_at', type: 'timestamptz', nullable: true })
  hubspotTokenExpiresAt: Date | null;

  @Column({ name: 'rate_limit_per_10s', type: 'integer', nullable: true })
  rateLimitPer10s: number | null;

  @Column({ name: 'rate_limit_daily', type: 'integer', nullable: true })
  rateLimitDaily: number | null;

  /** Its share of the workers against other portals with waiting jobs. */
  @Column({ name: 'scheduling_weight', type: 'integer', default: 1 })
  schedulingWeight: number;

  /** Runs of one job type at once across every worker; null for no limit but the fair share. */
  @Column({ name: 'scheduling_max_concurrency', type: 'integer', nullable: true })
  schedulingMaxConcurrency: number | null;

  /** Since when the portal's work is paused (its jobs wait, its writes are held); null while it runs. */
  @Column({ name: 'paused_at', type: 'timestamptz', nullable: true })
  pausedAt: Date | null;

  /** Why it is paused: the app was uninstalled (HubSpot refused its tokens for good), or an admin paused it. */
  @Column({ name: 'paused_reason', type: 'text', nullable: true })
  pausedReason: string | null;

  @Column({ name: 'property_mappings', type: 'jsonb' })
  propertyMappings: PropertyMappings;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
