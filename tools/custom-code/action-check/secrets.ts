import { FileFinding, Language, Position } from './finding';
import { nameWords } from './name-words';

/** A string literal of the source, with the name it is given to (variable, property, parameter, keyword), if any. */
export interface LiteralFact extends Position {
  value: string;
  boundName?: string;
}

interface TokenPattern {
  kind: string;
  pattern: RegExp;
  /** The part of a match that is public knowledge (a vendor prefix) and may be shown. */
  publicPrefix: RegExp;
}

const TOKEN_PATTERNS: TokenPattern[] = [
  {
    kind: 'a HubSpot private app token',
    pattern: /pat-[a-z]{2}\d+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i,
    publicPrefix: /^pat-[a-z]{2}\d+-/i,
  },
  { kind: 'an AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, publicPrefix: /^(?:AKIA|ASIA)/ },
  { kind: 'a Slack token', pattern: /\bxox[abprs]-[0-9A-Za-z-]{10,}/, publicPrefix: /^xox[abprs]-/ },
  { kind: 'a Stripe live key', pattern: /\b[rs]k_live_[0-9A-Za-z]{16,}/, publicPrefix: /^[rs]k_live_/ },
  { kind: 'a GitHub token', pattern: /\bgh[pousr]_[0-9A-Za-z]{36}\b/, publicPrefix: /^gh[pousr]_/ },
  { kind: 'a Google API key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/, publicPrefix: /^AIza/ },
  { kind: 'an OpenAI key', pattern: /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}/, publicPrefix: /^sk-(?:proj-)?/ },
  { kind: 'a private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*/, publicPrefix: /^-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { kind: 'a bearer token', pattern: /(?<=\bBearer\s+)[A-Za-z0-9\-._~+/]{12,}=*/, publicPrefix: /^$/ },
  {
    kind: 'a credential in a URL query',
    pattern: /(?<=[?&](?:hapikey|api_key|apikey|access_token|token|key)=)[A-Za-z0-9\-_.]{16,}/i,
    publicPrefix: /^$/,
  },
];

const SECRET_WORDS = new Set(['token', 'secret', 'password', 'passwd', 'pwd', 'apikey', 'hapikey', 'credential', 'credentials', 'auth', 'authorization', 'bearer']);
const KEY_QUALIFIERS = new Set(['api', 'access', 'private', 'secret', 'client', 'auth', 'app', 'signing', 'encryption', 'license']);
const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd']);
const TOKEN_CHARACTERS = /^[A-Za-z0-9_\-+/=.]+$/;
const ENVIRONMENT_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

function isSecretName(name: string): boolean {
  const words = nameWords(name);
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  return words.includes('key') && (words.length === 1 || words.some((word) => KEY_QUALIFIERS.has(word)));
}

/** A literal given to a secret-like name that looks like a credential rather than a label, a URL or a secret's name. */
function looksLikeCredential(value: string, name: string): boolean {
  if (/\s/.test(value) || ENVIRONMENT_NAME.test(value)) return false;
  if (nameWords(name).some((word) => PASSWORD_WORDS.has(word))) return value.length >= 6;
  return value.length >= 16 && TOKEN_CHARACTERS.test(value) && /[A-Za-z]/.test(value) && /\d/.test(value);
}

/** Shows what kind of secret it is and where, never the secret: only a vendor's public prefix and the length. */
function maskSecret(secret: string, publicPrefix: RegExp = /^$/): string {
  const prefix = publicPrefix.exec(secret)?.[0] ?? '';
  return `${prefix}****, ${secret.length} characters`;
}

export function secretFindings(literals: LiteralFact[], language: Language): FileFinding[] {
  const findings: FileFinding[] = [];
  const fix =
    language === 'javascript'
      ? 'add it as a secret of the action and read process.env.NAME; rotate it, since it has been exposed in the source'
      : 'add it as a secret of the action and read os.getenv("NAME"); rotate it, since it has been exposed in the source';
  for (const literal of literals) {
    const token = TOKEN_PATTERNS.map((p) => ({ p, match: p.pattern.exec(literal.value) })).find((t) => t.match !== null);
    let description: string | undefined;
    if (token?.match) {
      description = `${token.p.kind} (${maskSecret(token.match[0], token.p.publicPrefix)})`;
    } else if (literal.boundName && isSecretName(literal.boundName) && looksLikeCredential(literal.value, literal.boundName)) {
      description = `a credential given to \`${literal.boundName}\` (${maskSecret(literal.value)})`;
    }
    if (description) {
      findings.push({
        line: literal.line,
        column: literal.column,
        rule: 'hardcoded-secret',
        severity: 'error',
        message: `hard-coded secret: ${description} is in the source, visible to everyone who can open the workflow`,
        fix,
      });
    }
  }
  return findings;
}
