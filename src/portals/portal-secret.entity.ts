import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A secret a portal gives its handlers (a provider's API key, say), encrypted with ENCRYPTION_KEY. */
@Entity('portal_secrets')
export class PortalSecret {
  @PrimaryColumn({ name: 'portal_id', type: 'uuid' })
  portalId: string;

  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ name: 'value_enc', type: 'text' })
  valueEnc: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
