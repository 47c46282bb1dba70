export type Severity = 'error' | 'warning';

export type Language = 'javascript' | 'python';

export const RULE_IDS = [
  'syntax-error',
  'callback-handler',
  'unavailable-library',
  'hardcoded-secret',
  'random-identifier',
  'unguarded-input',
  'unhandled-network-error',
  'network-timeout',
  'time-budget',
  'output-mismatch',
  'url-from-input',
] as const;

export type RuleId = (typeof RULE_IDS)[number];

/** 1-based, as editors show them. */
export interface Position {
  line: number;
  column: number;
}

/** What an analyzer reports about the file it was given. */
export interface FileFinding extends Position {
  rule: RuleId;
  severity: Severity;
  message: string;
  fix: string;
}

export interface Finding extends FileFinding {
  file: string;
}

export function byPosition(a: FileFinding, b: FileFinding): number {
  return a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule) || a.message.localeCompare(b.message);
}
