import { ConfigError, Env, integer, text, url } from '../config/environment';

interface SettingBase {
  /** What the variable sets, for whoever deploys the service. */
  description: string;
}

export interface UrlSetting extends SettingBase {
  type: 'url';
  default: string;
  /** The schemes allowed, as URL.protocol spells them; http: and https: unless given. */
  protocols?: readonly string[];
}

export interface IntegerSetting extends SettingBase {
  type: 'integer';
  default: number;
  min: number;
  max: number;
}

export interface StringSetting extends SettingBase {
  type: 'string';
  default: string;
  /** The value must match it whole; anything unless given. */
  pattern?: RegExp;
}

export type SettingDeclaration = UrlSetting | IntegerSetting | StringSetting;

/** A handler's environment settings, by variable name. */
export type SettingDeclarations = Record<string, SettingDeclaration>;

/** The values of declared settings, by variable name. */
export type SettingValues<S extends SettingDeclarations> = { readonly [K in keyof S]: S[K] extends IntegerSetting ? number : string };

export type HandlerSettings = Readonly<Record<string, string | number>>;

const VARIABLE_PATTERN = /^[A-Z][A-Z0-9_]*$/;
const ANYTHING = /^[\s\S]*$/;

/** The variables of a handler start with its type, upper-cased: ENRICHMENT_ for `enrichment`. */
function settingPrefix(type: string): string {
  return `${type.toUpperCase().replaceAll('-', '_')}_`;
}

function readSetting(env: Env, name: string, setting: SettingDeclaration): string | number {
  switch (setting.type) {
    case 'url':
      return url(env, name, setting.default, setting.protocols ?? ['http:', 'https:'])!;
    case 'integer':
      return integer(env, name, setting.default, setting.min, setting.max);
    case 'string':
      return text(env, name, setting.default, setting.pattern ?? ANYTHING, `must match ${setting.pattern}`);
  }
}

/** A handler's settings from the environment, each its default when unset; an invalid one throws ConfigError naming it. */
export function readSettings(declarations: SettingDeclarations | undefined, env: Env): HandlerSettings {
  const values: Record<string, string | number> = {};
  for (const [name, setting] of Object.entries(declarations ?? {})) values[name] = readSetting(env, name, setting);
  return values;
}

/** What is wrong with a handler's setting declarations: each must be named for the handler, described, and its default valid. */
export function checkSettingDeclarations(type: string, declarations: unknown): string[] {
  if (declarations === null || typeof declarations !== 'object' || Array.isArray(declarations)) return ['settings must map variable names to their declarations'];
  const prefix = settingPrefix(type);
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(declarations as Record<string, SettingDeclaration>)) {
    if (!VARIABLE_PATTERN.test(name) || !name.startsWith(prefix) || name === prefix) {
      problems.push(`setting "${name}" must be an upper-case variable name starting with ${prefix}`);
      continue;
    }
    if (!['url', 'integer', 'string'].includes(setting?.type)) {
      problems.push(`setting ${name} has type "${setting?.type}", not url, integer or string`);
      continue;
    }
    if (!setting.description?.trim()) problems.push(`setting ${name} needs a description`);
    try {
      readSetting({ [name]: String(setting.default) }, name, setting);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(`setting ${name} has a default its own declaration refuses: it ${error.problem}`);
    }
  }
  return problems;
}

/** Every handler's settings by job type: read at start-up, which an invalid one stops with a ConfigError naming it. */
export function readHandlerSettings(declarations: Array<{ type: string; settings?: SettingDeclarations }>, env: Env): Map<string, HandlerSettings> {
  return new Map(declarations.map((declaration) => [declaration.type, readSettings(declaration.settings, env)]));
}
