import { ConfigError } from './environment';

/** The ConfigError `load` throws; a test fails if it throws anything else, or nothing. */
export function configRefusal(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}
