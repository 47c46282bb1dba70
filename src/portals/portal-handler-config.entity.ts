import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A portal's settings for one handler, checked against the handler's config schema when set. */
@Entity('portal_handler_configs')
export class PortalHandlerConfig {
  @PrimaryColumn({ name: 'portal_id', type: 'uuid' })
  portalId: string;

  @PrimaryColumn({ name: 'handler_type', type: 'text' })
  handlerType: string;

  @Column({ type: 'jsonb' })
  config: unknown;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
