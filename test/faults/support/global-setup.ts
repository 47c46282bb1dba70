import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { providePrerequisites, TEST_PREREQUISITES, thisMachine } from '../../support/prerequisites';
import { SUMMARY_FILE } from './summary';

/** Brings the programs the scenarios run (kcat's mock Kafka among them) and starts a fresh summary of recovery figures. */
export default async function globalSetup(): Promise<void> {
  await providePrerequisites(TEST_PREREQUISITES, thisMachine());
  mkdirSync(dirname(SUMMARY_FILE), { recursive: true });
  rmSync(SUMMARY_FILE, { force: true });
}
