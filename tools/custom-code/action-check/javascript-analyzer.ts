import ts from 'typescript';
import { Analysis, ImportFact, noFacts, RandomFact, SourceFacts } from './facts';
import { FileFinding, Position, RuleId, Severity } from './finding';
import {
  accessedName,
  FunctionNode,
  isAccess,
  isAssignment,
  isFunctionNode,
  isLoop,
  JavaScriptSource,
  propertyKey,
  unwrap,
} from './javascript-source';
import { OutputsFact, ReturnedOutput, ValueKind } from './outputs';
import { LiteralFact } from './secrets';

const BODY_METHODS = new Set(['post', 'put', 'patch', 'postForm', 'putForm', 'patchForm']);
const URL_FIRST_METHODS = new Set(['get', 'delete', 'head', 'options', ...BODY_METHODS]);
const ITERATION_METHODS = new Set(['forEach', 'map', 'flatMap', 'filter', 'reduce', 'some', 'every', 'find']);
const HUBSPOT_CLIENT_SETUP = new Set(['setAccessToken', 'setApiKey', 'setDeveloperApiKey', 'init']);
const HUBSPOT_TRUSTED_OBJECT_FIELDS = new Set(['objectId', 'objectType']);
const GUARDING_OPERATORS = new Set([
  ts.SyntaxKind.AmpersandAmpersandToken,
  ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.QuestionQuestionToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
]);
const COMPARISONS = new Set([
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
  ts.SyntaxKind.InstanceOfKeyword,
  ts.SyntaxKind.InKeyword,
]);
const ARITHMETIC = new Set([ts.SyntaxKind.MinusToken, ts.SyntaxKind.AsteriskToken, ts.SyntaxKind.SlashToken, ts.SyntaxKind.PercentToken, ts.SyntaxKind.AsteriskAsteriskToken]);
const STRING_METHODS = new Set(['toString', 'toLowerCase', 'toUpperCase', 'trim', 'trimStart', 'trimEnd', 'join', 'replace', 'replaceAll', 'padStart', 'padEnd', 'toFixed', 'substring', 'charAt', 'normalize']);
const DATE_TEXT_METHODS = new Set(['toISOString', 'toJSON', 'toUTCString', 'toDateString', 'toLocaleDateString', 'toLocaleTimeString']);
const NUMBER_METHODS = new Set(['getTime', 'valueOf', 'indexOf', 'lastIndexOf', 'findIndex', 'charCodeAt']);
const BOOLEAN_METHODS = new Set(['includes', 'startsWith', 'endsWith', 'has', 'test', 'some', 'every', 'isArray', 'isInteger', 'isFinite']);
const RANDOM_CALLS: Record<string, boolean> = {
  'Math.random': true,
  'crypto.randomUUID': false,
  randomUUID: false,
  'crypto.randomBytes': false,
  randomBytes: false,
};
/** How deep the rules follow calls into the file's own functions, and names into their values. */
const MAX_DEPTH = 4;
const LOOP_SLEEP_MS = 1_000;
const TOTAL_SLEEP_WARNING_MS = 5_000;
const BUDGET_MS = 20_000;
/** A URL prefix past its host: `https://host/`, a value then `/`, or a path relative to a fixed base (`/accounts/`). */
const HOST_IS_FIXED = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/?#]+|\u0000|\/[^/?#]+)[/?#]/i;
const UNKNOWN_TEXT = '\u0000';

type Taint = 'input' | 'object' | 'object-id' | 'none';

type UrlPart = { text: string } | { value: ts.Expression; taint: Taint; encoded: boolean };

interface Handler {
  fn: FunctionNode;
  at: ts.Node;
}

interface NetworkCall {
  call: ts.CallExpression;
  kind: 'fetch' | 'axios' | 'hubspot';
  url?: ts.Expression;
  config?: ts.Expression;
  /** An axios instance created with a timeout, or `axios.defaults.timeout` set. */
  timeoutByDefault: boolean;
}

interface Sleep {
  at: ts.Node;
  ms: number;
  inLoop: boolean;
}

const FIXES = {
  callbackHandler: 'declare `exports.main = async (event) => { … }` and return `{ outputFields: { … } }` from it',
  callbackUse: 'return `{ outputFields: { … } }` from main instead',
  unhandled: 'wrap it in try/catch: rethrow 429 and 5xx errors so HubSpot retries the action, and return a fallback output for the rest',
  fetchTimeout: 'pass `signal: AbortSignal.timeout(5000)` in the options',
  axiosTimeout: 'pass `{ timeout: 5000 }` in the request config (or create the axios instance with one)',
  perItemCalls: 'use a batch API (HubSpot batch read and update take 100 records a call), or enqueue an Offload job for the work and poll it',
  sleeping: 'do not wait inside the action: throw on a 429 so HubSpot retries later, or hand the waiting work to an Offload job',
  busy: 'give the loop an end: change what it tests, or break after a bounded number of rounds; long waiting work belongs in an Offload job',
  hostFromInput: 'call a fixed host; if it must vary, check `new URL(url).hostname` against an allowlist before the call',
  pathFromInput: 'wrap the value in encodeURIComponent(…) before putting it in the URL',
};

export function analyzeJavaScript(text: string, fileName: string): Analysis {
  const syntax = syntaxError(text, fileName);
  if (syntax) return { findings: [syntax], facts: noFacts() };
  return new JavaScriptAnalyzer(new JavaScriptSource(text, fileName)).run();
}

/** The first syntax error, as Node would reject the file (later ones are usually its echoes). */
function syntaxError(text: string, fileName: string): FileFinding | undefined {
  const { diagnostics = [] } = ts.transpileModule(text, { fileName, reportDiagnostics: true, compilerOptions: { allowJs: true } });
  const first = diagnostics.find((d) => d.category === ts.DiagnosticCategory.Error && d.file && d.start !== undefined);
  if (!first?.file || first.start === undefined) return undefined;
  const { line, character } = first.file.getLineAndCharacterOfPosition(first.start);
  return {
    line: line + 1,
    column: character + 1,
    rule: 'syntax-error',
    severity: 'error',
    message: `the file does not parse: ${ts.flattenDiagnosticMessageText(first.messageText, ' ')}`,
    fix: 'correct the syntax; HubSpot cannot run the action as it is',
  };
}

class JavaScriptAnalyzer {
  private readonly findings: FileFinding[] = [];
  private readonly handler: Handler | undefined;
  private readonly eventNames = new Set<string>();
  private readonly inputsAliases = new Set<string>();
  private readonly objectAliases = new Set<string>();
  /** Variables holding one input as read, unguarded: name -> input field. */
  private readonly inputVariables = new Map<string, string>();
  private readonly axiosNames = new Set<string>();
  private readonly axiosInstances = new Map<string, boolean>();
  private readonly defaultTimeouts = new Set<string>();
  private readonly hubspotModuleNames = new Set<string>();
  private readonly hubspotClients = new Set<string>();
  private readonly uuidNames = new Set<string>();
  private readonly networkFunctions = new Map<FunctionNode, boolean>();

  constructor(private readonly src: JavaScriptSource) {
    this.handler = this.findMain();
    this.modelEvent();
    this.modelLibraries();
  }

  run(): Analysis {
    this.checkCallbackHandler();
    this.checkInputs();
    const calls = this.networkCalls();
    this.checkNetworkCalls(calls);
    this.checkUrls(calls);
    this.checkLoops();
    this.checkBusyLoops();
    this.checkSleeps();
    return { findings: this.findings, facts: this.facts() };
  }

  private report(node: ts.Node, rule: RuleId, severity: Severity, message: string, fix: string): void {
    this.findings.push({ ...this.src.position(node), rule, severity, message, fix });
  }

  // ---------------------------------------------------------------------------------------------
  // The handler and the event
  // ---------------------------------------------------------------------------------------------

  private findMain(): Handler | undefined {
    for (const statement of this.src.file.statements) {
      if (ts.isExpressionStatement(statement) && isAssignment(statement.expression)) {
        const { left, right } = statement.expression;
        const target = left.getText(this.src.file).replace(/\s+/g, '');
        if (target === 'exports.main' || target === 'module.exports.main') {
          const fn = this.functionFrom(right);
          if (fn) return { fn, at: statement };
        }
        const value = unwrap(right);
        if ((target === 'module.exports' || target === 'exports') && ts.isObjectLiteralExpression(value)) {
          const found = this.mainOf(value);
          if (found) return found;
        }
      }
      const exported = ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (exported && ts.isFunctionDeclaration(statement) && statement.name?.text === 'main') return { fn: statement, at: statement };
      if (exported && ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          const fn = ts.isIdentifier(declaration.name) && declaration.name.text === 'main' && declaration.initializer ? this.functionFrom(declaration.initializer) : undefined;
          if (fn) return { fn, at: statement };
        }
      }
    }
    return undefined;
  }

  private mainOf(exported: ts.ObjectLiteralExpression): Handler | undefined {
    for (const property of exported.properties) {
      if (!property.name || propertyKey(property.name) !== 'main') continue;
      const fn = ts.isMethodDeclaration(property)
        ? property
        : ts.isPropertyAssignment(property)
          ? this.functionFrom(property.initializer)
          : ts.isShorthandPropertyAssignment(property)
            ? this.src.functionNamed('main')
            : undefined;
      if (fn) return { fn, at: property };
    }
    return undefined;
  }

  private functionFrom(expression: ts.Expression): FunctionNode | undefined {
    const value = unwrap(expression);
    if (isFunctionNode(value)) return value;
    return ts.isIdentifier(value) ? this.src.functionNamed(value.text) : undefined;
  }

  private modelEvent(): void {
    const first = this.handler?.fn.parameters[0];
    if (!first) this.eventNames.add('event');
    else if (ts.isIdentifier(first.name)) this.eventNames.add(first.name.text);
    else if (ts.isObjectBindingPattern(first.name)) this.bindEventPattern(first.name);
    for (const node of this.src.nodes) {
      if (!ts.isVariableDeclaration(node) || !node.initializer) continue;
      const value = unwrap(node.initializer);
      if (ts.isIdentifier(node.name)) {
        const field = this.inputField(value);
        if (this.isInputs(value)) this.inputsAliases.add(node.name.text);
        else if (this.isObject(value)) this.objectAliases.add(node.name.text);
        else if (field !== undefined) this.inputVariables.set(node.name.text, field);
      } else if (ts.isObjectBindingPattern(node.name)) {
        if (this.isEvent(value)) this.bindEventPattern(node.name);
        else if (this.isInputs(value)) this.bindInputsPattern(node.name);
      }
    }
  }

  private bindEventPattern(pattern: ts.ObjectBindingPattern): void {
    for (const element of pattern.elements) {
      const key = element.propertyName ? propertyKey(element.propertyName) : ts.isIdentifier(element.name) ? element.name.text : undefined;
      if (key === 'inputFields' && ts.isIdentifier(element.name)) this.inputsAliases.add(element.name.text);
      if (key === 'inputFields' && ts.isObjectBindingPattern(element.name)) this.bindInputsPattern(element.name);
      if (key === 'object' && ts.isIdentifier(element.name)) this.objectAliases.add(element.name.text);
    }
  }

  private bindInputsPattern(pattern: ts.ObjectBindingPattern): void {
    for (const element of pattern.elements) {
      if (element.initializer || element.dotDotDotToken || !ts.isIdentifier(element.name)) continue;
      const field = element.propertyName ? propertyKey(element.propertyName) : element.name.text;
      if (field !== undefined) this.inputVariables.set(element.name.text, field);
    }
  }

  private isEvent(node: ts.Node): boolean {
    return ts.isIdentifier(node) && this.eventNames.has(node.text);
  }

  private isEventPart(node: ts.Node, part: string, aliases: Set<string>): boolean {
    if (ts.isIdentifier(node)) return aliases.has(node.text);
    return isAccess(node) && accessedName(node) === part && this.isEvent(unwrap(node.expression));
  }

  private isInputs(node: ts.Node): boolean {
    return this.isEventPart(node, 'inputFields', this.inputsAliases);
  }

  private isObject(node: ts.Node): boolean {
    return this.isEventPart(node, 'object', this.objectAliases);
  }

  private inputField(node: ts.Node): string | undefined {
    return isAccess(node) && this.isInputs(unwrap(node.expression)) ? accessedName(node) : undefined;
  }

  /** Identifies one input read as is: `field:email` for `event.inputFields.email`, `var:email` for a variable holding it. */
  private inputKey(node: ts.Node): string | undefined {
    const field = this.inputField(node);
    if (field !== undefined) return `field:${field}`;
    return ts.isIdentifier(node) && this.inputVariables.has(node.text) ? `var:${node.text}` : undefined;
  }

  private taintOf(expression: ts.Expression, depth = 0): Taint {
    let taint: Taint = 'none';
    const rank: Record<Taint, number> = { none: 0, 'object-id': 1, object: 2, input: 3 };
    const raise = (to: Taint): void => {
      if (rank[to] > rank[taint]) taint = to;
    };
    const visit = (node: ts.Node): void => {
      if (this.isInputs(node) || this.inputKey(node) !== undefined) return raise('input');
      if (isAccess(node) && this.isObject(unwrap(node.expression))) {
        return raise(HUBSPOT_TRUSTED_OBJECT_FIELDS.has(accessedName(node) ?? '') ? 'object-id' : 'object');
      }
      if (this.isObject(node)) return raise('object');
      if (ts.isIdentifier(node) && depth < MAX_DEPTH) {
        const value = this.src.initializerOf(node.text);
        if (value) raise(this.taintOf(value, depth + 1));
        return;
      }
      ts.forEachChild(node, visit);
    };
    visit(expression);
    return taint;
  }

  // ---------------------------------------------------------------------------------------------
  // Rule: callback-style handlers
  // ---------------------------------------------------------------------------------------------

  private checkCallbackHandler(): void {
    const handler = this.handler;
    const callback = handler?.fn.parameters[1];
    if (!handler || !callback || !ts.isIdentifier(callback.name)) return;
    const name = callback.name.text;
    this.report(
      handler.at,
      'callback-handler',
      'error',
      `callback-style handler: main takes \`(${handler.fn.parameters.map((p) => p.name.getText(this.src.file)).join(', ')})\`; Node.js 24 calls main(event) only, so outputs passed to \`${name}\` never reach the workflow`,
      FIXES.callbackHandler,
    );
    if (!handler.fn.body) return;
    this.src.everyNodeUnder(handler.fn.body, (node) => {
      if (!ts.isIdentifier(node) || node.text !== name) return;
      const parent = node.parent;
      if ((ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node)) return;
      const called = ts.isCallExpression(parent) && parent.expression === node;
      this.report(
        node,
        'callback-handler',
        'error',
        called ? `\`${name}(…)\` hands the outputs to a callback Node.js 24 does not provide` : `\`${name}\` is passed on, to be called with the outputs later; Node.js 24 provides no callback`,
        FIXES.callbackUse,
      );
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Rule: inputs used without a check
  // ---------------------------------------------------------------------------------------------

  private checkInputs(): void {
    const guards = this.guards();
    for (const node of this.src.nodes) {
      if (!isAccess(node) || node.questionDotToken) continue;
      const target = unwrap(node.expression);
      const key = this.inputKey(target);
      if (!key) continue;
      const start = target.getStart(this.src.file);
      if (guards.get(key)?.some((at) => at < start) || this.insideTry(node)) continue;
      const member = accessedName(node) ?? '[…]';
      this.report(
        target,
        'unguarded-input',
        'warning',
        `\`${this.src.text(target)}.${member}\` uses the input without checking it: a record whose property is empty makes the action throw a TypeError`,
        `give \`${this.src.text(target)}\` a default where it is read (\`?? ''\`), or check it before use`,
      );
    }
  }

  /** Where each input is tested (conditions, `&&`/`||`/`??` and their assignments, typeof), by input key. */
  private guards(): Map<string, number[]> {
    const guards = new Map<string, number[]>();
    const record = (test: ts.Node): void => {
      const key = this.inputKey(test);
      if (key) guards.set(key, [...(guards.get(key) ?? []), test.getStart(this.src.file)]);
      ts.forEachChild(test, record);
    };
    for (const node of this.src.nodes) {
      if (ts.isIfStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node) || ts.isSwitchStatement(node)) record(node.expression);
      else if (ts.isConditionalExpression(node)) record(node.condition);
      else if (ts.isForStatement(node) && node.condition) record(node.condition);
      else if (ts.isTypeOfExpression(node)) record(node.expression);
      else if (ts.isBinaryExpression(node) && GUARDING_OPERATORS.has(node.operatorToken.kind)) record(node.left);
    }
    return guards;
  }

  private insideTry(node: ts.Node): boolean {
    for (let current = node; current.parent && !isFunctionNode(current); current = current.parent) {
      if (ts.isTryStatement(current.parent) && current.parent.tryBlock === current) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Network calls
  // ---------------------------------------------------------------------------------------------

  private modelLibraries(): void {
    for (const node of this.src.nodes) {
      if (ts.isVariableDeclaration(node) && node.initializer) {
        const module = requiredModule(node.initializer);
        if (module) this.bindModule(module, bindingNames(node.name));
      }
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && node.importClause) {
        const { name, namedBindings } = node.importClause;
        const names = name ? [name.text] : [];
        if (namedBindings && ts.isNamespaceImport(namedBindings)) names.push(namedBindings.name.text);
        if (namedBindings && ts.isNamedImports(namedBindings)) names.push(...namedBindings.elements.map((e) => e.name.text));
        this.bindModule(node.moduleSpecifier.text, names);
      }
    }
    for (const node of this.src.nodes) {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
        const value = unwrap(node.initializer);
        if (ts.isCallExpression(value) && ts.isPropertyAccessExpression(value.expression) && value.expression.name.text === 'create' && this.isAxios(value.expression.expression)) {
          this.axiosInstances.set(node.name.text, this.hasOption(value.arguments[0], ['timeout', 'signal']));
        }
        if (ts.isNewExpression(value) && this.isHubSpotClientClass(value.expression)) this.hubspotClients.add(node.name.text);
      }
      if (isAssignment(node) && ts.isPropertyAccessExpression(node.left) && node.left.name.text === 'timeout') {
        const defaults = node.left.expression;
        if (ts.isPropertyAccessExpression(defaults) && defaults.name.text === 'defaults' && ts.isIdentifier(defaults.expression)) this.defaultTimeouts.add(defaults.expression.text);
      }
    }
  }

  private bindModule(module: string, names: string[]): void {
    const targets: Record<string, Set<string>> = { axios: this.axiosNames, uuid: this.uuidNames, '@hubspot/api-client': this.hubspotModuleNames };
    if (!Object.hasOwn(targets, module)) return;
    for (const name of names) targets[module].add(name);
  }

  private isAxios(node: ts.Node): boolean {
    return ts.isIdentifier(node) && this.axiosNames.has(node.text);
  }

  private isHubSpotClientClass(node: ts.Expression): boolean {
    if (ts.isIdentifier(node)) return this.hubspotModuleNames.has(node.text);
    return ts.isPropertyAccessExpression(node) && node.name.text === 'Client' && ts.isIdentifier(node.expression) && this.hubspotModuleNames.has(node.expression.text);
  }

  /** Whether options name one of these keys; options that cannot be read here count as having it. */
  private hasOption(options: ts.Expression | undefined, keys: string[], depth = 0): boolean {
    if (!options) return false;
    const value = unwrap(options);
    if (ts.isObjectLiteralExpression(value)) {
      return value.properties.some((p) => ts.isSpreadAssignment(p) || (p.name !== undefined && keys.includes(propertyKey(p.name) ?? '')));
    }
    if (ts.isIdentifier(value) && depth < MAX_DEPTH) {
      const initializer = this.src.initializerOf(value.text);
      return initializer ? this.hasOption(initializer, keys, depth + 1) : true;
    }
    return true;
  }

  private configValue(config: ts.Expression | undefined, key: string): ts.Expression | undefined {
    const value = config && unwrap(config);
    if (!value || !ts.isObjectLiteralExpression(value)) return undefined;
    for (const property of value.properties) {
      if (ts.isPropertyAssignment(property) && propertyKey(property.name) === key) return property.initializer;
      if (ts.isShorthandPropertyAssignment(property) && property.name.text === key) return property.name;
    }
    return undefined;
  }

  private classify(call: ts.CallExpression): NetworkCall | undefined {
    const callee = unwrap(call.expression);
    const args = call.arguments;
    if ((ts.isIdentifier(callee) && callee.text === 'fetch') || (ts.isPropertyAccessExpression(callee) && callee.name.text === 'fetch' && callee.expression.getText(this.src.file) === 'globalThis')) {
      return { call, kind: 'fetch', url: args[0], config: args[1], timeoutByDefault: false };
    }
    const axiosCall = (root: ts.Identifier, method: string | undefined): NetworkCall | undefined => {
      const timeoutByDefault = this.defaultTimeouts.has(root.text) || this.axiosInstances.get(root.text) === true;
      if (method === undefined || method === 'request') {
        const first = args[0] && unwrap(args[0]);
        const config = first && ts.isObjectLiteralExpression(first) ? first : args[1];
        return { call, kind: 'axios', url: config === first ? this.configValue(config, 'url') : args[0], config, timeoutByDefault };
      }
      if (!URL_FIRST_METHODS.has(method)) return undefined;
      return { call, kind: 'axios', url: args[0], config: args[BODY_METHODS.has(method) ? 2 : 1], timeoutByDefault };
    };
    const isAxiosLike = (node: ts.Node): node is ts.Identifier => this.isAxios(node) || (ts.isIdentifier(node) && this.axiosInstances.has(node.text));
    if (isAxiosLike(callee)) return axiosCall(callee, undefined);
    if (ts.isPropertyAccessExpression(callee) && isAxiosLike(callee.expression)) return axiosCall(callee.expression, callee.name.text);
    if (ts.isPropertyAccessExpression(callee) && !HUBSPOT_CLIENT_SETUP.has(callee.name.text)) {
      let root: ts.Expression = callee.expression;
      while (ts.isPropertyAccessExpression(root)) root = root.expression;
      if (ts.isIdentifier(root) && this.hubspotClients.has(root.text)) return { call, kind: 'hubspot', timeoutByDefault: false };
    }
    return undefined;
  }

  private networkCalls(): NetworkCall[] {
    return this.src.nodes.filter(ts.isCallExpression).flatMap((call) => this.classify(call) ?? []);
  }

  /** A rejection of this call is caught: by a try block, a `.catch`, `.then(ok, failed)`, Promise.allSettled, or at every call of its function. */
  private isHandled(node: ts.Node, depth = 0): boolean {
    let current = node;
    while (current.parent) {
      const parent: ts.Node = current.parent;
      if (ts.isTryStatement(parent) && parent.tryBlock === current) return true;
      if (ts.isPropertyAccessExpression(parent) && parent.expression === current && ts.isCallExpression(parent.parent) && parent.parent.expression === parent) {
        if (parent.name.text === 'catch' || (parent.name.text === 'then' && parent.parent.arguments.length >= 2)) return true;
      }
      if (ts.isCallExpression(parent) && parent.expression.getText(this.src.file) === 'Promise.allSettled') return true;
      if (isFunctionNode(parent)) {
        if (parent === this.handler?.fn || depth >= MAX_DEPTH) return false;
        const holder = parent.parent;
        if (ts.isCallExpression(holder) && holder.arguments.some((a) => a === parent)) {
          current = holder;
          continue;
        }
        const name = this.src.nameOf(parent);
        const calls = name ? this.src.callsOf(name) : [];
        return calls.length > 0 && calls.every((call) => this.isHandled(call, depth + 1));
      }
      current = parent;
    }
    return false;
  }

  private checkNetworkCalls(calls: NetworkCall[]): void {
    for (const network of calls) {
      const label = `${this.src.text(network.call.expression)}(…)`;
      if (!this.isHandled(network.call)) {
        this.report(
          network.call,
          'unhandled-network-error',
          'warning',
          `\`${label}\` has no error handling (no try/catch, no .catch): a failed call throws out of main and HubSpot fails the step, retrying only 429 and 5xx answers`,
          FIXES.unhandled,
        );
      }
      if (network.kind === 'fetch' && !this.hasOption(network.config, ['signal'])) {
        this.report(network.call, 'network-timeout', 'warning', `\`${label}\` has no timeout: a slow server holds the action until the 20-second limit ends it, with no outputs`, FIXES.fetchTimeout);
      }
      if (network.kind === 'axios' && !network.timeoutByDefault && !this.hasOption(network.config, ['timeout', 'signal'])) {
        this.report(network.call, 'network-timeout', 'warning', `\`${label}\` has no timeout: axios waits forever by default, so a slow server holds the action until the 20-second limit ends it`, FIXES.axiosTimeout);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rule: URLs built from inputs
  // ---------------------------------------------------------------------------------------------

  private urlParts(expression: ts.Expression, depth = 0): UrlPart[] {
    const value = unwrap(expression);
    if (ts.isStringLiteralLike(value)) return [{ text: value.text }];
    if (ts.isTemplateExpression(value)) {
      return [{ text: value.head.text }, ...value.templateSpans.flatMap((span) => [...this.urlParts(span.expression, depth), { text: span.literal.text }])];
    }
    if (ts.isBinaryExpression(value) && value.operatorToken.kind === ts.SyntaxKind.PlusToken) return [...this.urlParts(value.left, depth), ...this.urlParts(value.right, depth)];
    if (ts.isIdentifier(value) && this.inputKey(value) === undefined && depth < MAX_DEPTH) {
      const initializer = this.src.initializerOf(value.text);
      if (initializer) return this.urlParts(initializer, depth + 1);
    }
    if (ts.isCallExpression(value) && ts.isIdentifier(value.expression) && value.expression.text === 'encodeURIComponent' && value.arguments[0]) {
      return [{ value, taint: this.taintOf(value.arguments[0]), encoded: true }];
    }
    if (ts.isNewExpression(value) && ts.isIdentifier(value.expression) && value.expression.text === 'URL' && value.arguments?.[0]) {
      const [path, base] = value.arguments;
      return base ? [...this.urlParts(base, depth), ...this.urlParts(path, depth)] : this.urlParts(path, depth);
    }
    return [{ value, taint: this.taintOf(value), encoded: false }];
  }

  private checkUrls(calls: NetworkCall[]): void {
    for (const network of calls) {
      if (!network.url) continue;
      let prefix = '';
      for (const part of this.urlParts(network.url)) {
        if ('text' in part) {
          prefix += part.text;
          continue;
        }
        const hostFixed = HOST_IS_FIXED.test(prefix);
        if (part.taint !== 'none' && !hostFixed) {
          this.report(
            network.url,
            'url-from-input',
            'error',
            `the request's host comes from \`${this.src.text(part.value)}\`: whoever sets that value decides where the action sends its request, and any secret in it (SSRF)`,
            FIXES.hostFromInput,
          );
          break;
        }
        if (part.taint === 'input' && !part.encoded) {
          this.report(
            network.url,
            'url-from-input',
            'warning',
            `the input \`${this.src.text(part.value)}\` goes into the URL's path or query unencoded: a value with \`/\`, \`?\` or \`#\` changes which endpoint is called`,
            FIXES.pathFromInput,
          );
          break;
        }
        prefix += UNKNOWN_TEXT;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rule: the 20-second budget
  // ---------------------------------------------------------------------------------------------

  private makesNetworkCalls(fn: FunctionNode, depth: number): boolean {
    const known = this.networkFunctions.get(fn);
    if (known !== undefined) return known;
    this.networkFunctions.set(fn, false);
    const result = fn.body !== undefined && this.containsNetworkCall(fn.body, depth + 1);
    this.networkFunctions.set(fn, result);
    return result;
  }

  private containsNetworkCall(root: ts.Node, depth = 0): boolean {
    const isNetwork = (node: ts.Node): boolean => {
      if (!ts.isCallExpression(node)) return false;
      if (this.classify(node)) return true;
      const callee = unwrap(node.expression);
      const fn = ts.isIdentifier(callee) && depth < MAX_DEPTH ? this.src.functionNamed(callee.text) : undefined;
      return fn !== undefined && this.makesNetworkCalls(fn, depth);
    };
    return isNetwork(root) || this.src.everyNodeUnder(root, isNetwork);
  }

  /**
   * `while (true)`, `for (;;)` and other loops that can only spin: no wait in the body (await,
   * setTimeout, a network call), and nothing that the loop tests, or the conditions guarding its
   * breaks, read is changed in it. They run until the 20-second limit stops the action.
   */
  private checkBusyLoops(): void {
    for (const node of this.src.nodes) {
      if (!ts.isWhileStatement(node) && !ts.isForStatement(node) && !ts.isDoStatement(node)) continue;
      let waits = false;
      this.src.within(node.statement, (inner) => {
        if (ts.isAwaitExpression(inner) || ts.isYieldExpression(inner) || (ts.isCallExpression(inner) && (this.classify(inner) || isCalled(inner, 'setTimeout')))) waits = true;
      });
      if (waits) continue;
      const test = ts.isForStatement(node) ? node.condition : node.expression;
      const conditions = test === undefined || test.kind === ts.SyntaxKind.TrueKeyword ? [] : [test];
      let exitsUnconditionally = false;
      const visit = (inner: ts.Node, guard: ts.Expression | undefined): void => {
        if (isFunctionNode(inner) || isLoop(inner)) return;
        if (ts.isBreakStatement(inner) || ts.isReturnStatement(inner) || ts.isThrowStatement(inner)) {
          if (guard) conditions.push(guard);
          else exitsUnconditionally = true;
          return;
        }
        if (ts.isIfStatement(inner)) {
          visit(inner.thenStatement, guard ?? inner.expression);
          if (inner.elseStatement) visit(inner.elseStatement, guard ?? inner.expression);
          return;
        }
        ts.forEachChild(inner, (child) => visit(child, guard));
      };
      ts.forEachChild(node.statement, (child) => visit(child, undefined));
      const testsACall = conditions.some((condition) => ts.isCallExpression(condition) || this.src.everyNodeUnder(condition, ts.isCallExpression));
      if (exitsUnconditionally || testsACall) continue;
      const tested = new Set<string>();
      for (const condition of conditions) {
        if (ts.isIdentifier(condition)) tested.add(condition.text);
        this.src.everyNodeUnder(condition, (inner) => void (ts.isIdentifier(inner) && tested.add(inner.text)));
      }
      const changed = changedNames(node);
      if (conditions.length === 0 || ![...tested].some((name) => changed.has(name))) {
        this.report(node, 'time-budget', 'error', 'this loop cannot end: its body neither changes what it tests nor waits, so it spins until the 20-second limit stops the action', FIXES.busy);
      }
    }
  }

  private checkLoops(): void {
    for (const node of this.src.nodes) {
      if (isLoop(node)) {
        let awaitsCall = false;
        this.src.within(node.statement, (inner) => {
          if (ts.isAwaitExpression(inner) && this.containsNetworkCall(inner)) awaitsCall = true;
        });
        if (awaitsCall) {
          this.report(node, 'time-budget', 'warning', 'this loop awaits a network call on every iteration: the calls run one after another, and with enough items they pass the 20-second limit', FIXES.perItemCalls);
        }
      }
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ITERATION_METHODS.has(node.expression.name.text)) {
        const callback = node.arguments[0] && unwrap(node.arguments[0]);
        if (!callback || !isFunctionNode(callback) || !callback.body || !this.containsNetworkCall(callback.body)) continue;
        const method = node.expression.name.text;
        const isAsync = callback.modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword) === true;
        this.report(
          node.expression.name,
          'time-budget',
          'warning',
          method === 'forEach' && isAsync
            ? '`forEach` starts a network call per item and does not wait for them: main can return before they finish, and many items pass the rate limit'
            : `\`${method}\` makes a network call per item: with many items the calls pass HubSpot's rate limit or the 20-second limit`,
          FIXES.perItemCalls,
        );
      }
    }
  }

  private numberValue(expression: ts.Expression | undefined, depth = 0): number | undefined {
    if (!expression) return undefined;
    const value = unwrap(expression);
    if (ts.isNumericLiteral(value)) return Number(value.text.replace(/_/g, ''));
    if (ts.isPrefixUnaryExpression(value) && value.operator === ts.SyntaxKind.MinusToken) {
      const operand = this.numberValue(value.operand, depth);
      return operand === undefined ? undefined : -operand;
    }
    if (ts.isBinaryExpression(value)) {
      const left = this.numberValue(value.left, depth);
      const right = this.numberValue(value.right, depth);
      if (left === undefined || right === undefined) return undefined;
      switch (value.operatorToken.kind) {
        case ts.SyntaxKind.AsteriskToken:
          return left * right;
        case ts.SyntaxKind.PlusToken:
          return left + right;
        case ts.SyntaxKind.MinusToken:
          return left - right;
        case ts.SyntaxKind.SlashToken:
          return left / right;
        default:
          return undefined;
      }
    }
    if (ts.isIdentifier(value) && depth < MAX_DEPTH) return this.numberValue(this.src.initializerOf(value.text), depth + 1);
    return undefined;
  }

  private inLoop(node: ts.Node): boolean {
    for (let current = node; current.parent; current = current.parent) {
      const parent = current.parent;
      if (isLoop(parent) && parent.statement === current) return true;
      if (isFunctionNode(current)) {
        return ts.isCallExpression(parent) && ts.isPropertyAccessExpression(parent.expression) && ITERATION_METHODS.has(parent.expression.name.text);
      }
    }
    return false;
  }

  private sleeps(): Sleep[] {
    const sleeps: Sleep[] = [];
    for (const call of this.src.callsOf('setTimeout')) {
      const delay = call.arguments.length > 1 ? call.arguments[1] : call.arguments[0];
      const ms = this.numberValue(delay);
      if (ms !== undefined) {
        sleeps.push({ at: call, ms, inLoop: this.inLoop(call) });
        continue;
      }
      const parameter = delay && ts.isIdentifier(delay) ? this.parameterNamed(call, delay.text) : undefined;
      const name = parameter && this.src.nameOf(parameter.fn);
      if (!parameter || !name) continue;
      for (const site of this.src.callsOf(name)) {
        const siteMs = this.numberValue(site.arguments[parameter.index]);
        if (siteMs !== undefined) sleeps.push({ at: site, ms: siteMs, inLoop: this.inLoop(site) });
      }
    }
    return sleeps;
  }

  /** The function around `node` that declares a parameter of this name, and its index. */
  private parameterNamed(node: ts.Node, name: string): { fn: FunctionNode; index: number } | undefined {
    for (let fn = this.src.enclosingFunction(node); fn; fn = this.src.enclosingFunction(fn)) {
      const index = fn.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === name);
      if (index >= 0) return { fn, index };
    }
    return undefined;
  }

  private checkSleeps(): void {
    const sleeps = this.sleeps();
    for (const sleep of sleeps) {
      if (sleep.inLoop && sleep.ms >= LOOP_SLEEP_MS) {
        this.report(sleep.at, 'time-budget', 'warning', `waits ${sleep.ms / 1000} s on every iteration of a loop: the waits alone can pass the 20-second limit`, FIXES.sleeping);
      }
    }
    const straight = sleeps.filter((sleep) => !sleep.inLoop);
    const total = straight.reduce((sum, sleep) => sum + sleep.ms, 0);
    if (total >= TOTAL_SLEEP_WARNING_MS) {
      this.report(
        straight[0].at,
        'time-budget',
        total >= BUDGET_MS ? 'error' : 'warning',
        `waits ${total / 1000} s in all (${straight.length === 1 ? 'one wait' : `${straight.length} waits`}): that much of the 20-second limit is spent doing nothing`,
        FIXES.sleeping,
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Facts judged in common with Python
  // ---------------------------------------------------------------------------------------------

  private facts(): SourceFacts {
    const imports: ImportFact[] = [];
    const literals: LiteralFact[] = [];
    const randomValues: RandomFact[] = [];
    for (const node of this.src.nodes) {
      const module = moduleSpecifier(node);
      if (module) imports.push({ module: module.text, ...this.src.position(module) });
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && !isNameLike(node)) {
        literals.push({ value: node.text, boundName: this.boundName(node), ...this.src.position(node) });
      }
      if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) literals.push({ value: node.text, ...this.src.position(node) });
      if (ts.isCallExpression(node)) {
        const random = this.randomSource(node);
        if (random) randomValues.push({ ...random, boundName: this.boundName(node), ...this.src.position(node) });
      }
    }
    return { imports, literals, randomValues, outputs: this.outputs() };
  }

  private randomSource(call: ts.CallExpression): { source: string; repeatable: boolean } | undefined {
    const callee = unwrap(call.expression);
    const text = callee.getText(this.src.file).replace(/\s+/g, '');
    if (Object.hasOwn(RANDOM_CALLS, text)) return { source: `${text}()`, repeatable: RANDOM_CALLS[text] };
    const root = ts.isPropertyAccessExpression(callee) ? callee.expression : callee;
    if (ts.isIdentifier(root) && this.uuidNames.has(root.text)) return { source: `${text}() (uuid)`, repeatable: false };
    return undefined;
  }

  /**
   * The name a value ends up under: the variable, property, assigned member or parameter it
   * initialises, following it through operators, method chains and calls that wrap it.
   */
  private boundName(node: ts.Node): string | undefined {
    let fallback: string | undefined;
    let current = node;
    while (current.parent) {
      const parent: ts.Node = current.parent;
      if (ts.isVariableDeclaration(parent)) return parent.initializer === current && ts.isIdentifier(parent.name) ? parent.name.text : fallback;
      if (ts.isPropertyAssignment(parent)) return parent.initializer === current ? propertyKey(parent.name) : fallback;
      if (ts.isParameter(parent)) return parent.initializer === current && ts.isIdentifier(parent.name) ? parent.name.text : fallback;
      if (isAssignment(parent)) return parent.right === current ? (ts.isIdentifier(parent.left) ? parent.left.text : accessedName(parent.left)) : fallback;
      if ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression !== current) {
        const args = parent.arguments ?? ts.factory.createNodeArray();
        const index = args.findIndex((a) => a === current);
        const first = args[0];
        const callee = unwrap(parent.expression);
        const calleeName = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
        fallback ??= index === 1 && first && ts.isStringLiteralLike(first) ? first.text : calleeName;
      }
      const passesValueOn =
        ts.isParenthesizedExpression(parent) ||
        ts.isAwaitExpression(parent) ||
        ts.isConditionalExpression(parent) ||
        ts.isTemplateSpan(parent) ||
        ts.isTemplateExpression(parent) ||
        ts.isCallExpression(parent) ||
        ts.isNewExpression(parent) ||
        (ts.isPropertyAccessExpression(parent) && parent.expression === current) ||
        (ts.isBinaryExpression(parent) && !isAssignment(parent)) ||
        ts.isPrefixUnaryExpression(parent);
      if (!passesValueOn) return fallback;
      current = parent;
    }
    return fallback;
  }

  private kindOf(expression: ts.Expression, depth = 0): { kind: ValueKind; literal?: string } {
    const value = unwrap(expression);
    if (ts.isStringLiteralLike(value)) return { kind: 'string', literal: value.text };
    if (ts.isTemplateExpression(value)) return { kind: 'string' };
    if (ts.isNumericLiteral(value) || ts.isBigIntLiteral(value)) return { kind: 'number' };
    if (value.kind === ts.SyntaxKind.TrueKeyword || value.kind === ts.SyntaxKind.FalseKeyword) return { kind: 'bool' };
    if (ts.isPrefixUnaryExpression(value)) return { kind: value.operator === ts.SyntaxKind.ExclamationToken ? 'bool' : 'number' };
    if (ts.isBinaryExpression(value)) {
      const operator = value.operatorToken.kind;
      if (COMPARISONS.has(operator)) return { kind: 'bool' };
      if (ARITHMETIC.has(operator)) return { kind: 'number' };
      const left = this.kindOf(value.left, depth).kind;
      const right = this.kindOf(value.right, depth).kind;
      if (operator === ts.SyntaxKind.PlusToken) return { kind: left === 'string' || right === 'string' ? 'string' : left === 'number' && right === 'number' ? 'number' : 'unknown' };
      return { kind: left === right ? left : 'unknown' };
    }
    if (ts.isConditionalExpression(value)) {
      const whenTrue = this.kindOf(value.whenTrue, depth).kind;
      return { kind: whenTrue === this.kindOf(value.whenFalse, depth).kind ? whenTrue : 'unknown' };
    }
    if (ts.isNewExpression(value) && value.expression.getText(this.src.file) === 'Date') return { kind: 'iso-date-string' };
    if (ts.isPropertyAccessExpression(value) && value.name.text === 'length') return { kind: 'number' };
    if (ts.isCallExpression(value)) return { kind: this.callKind(value) };
    if (ts.isIdentifier(value) && depth < MAX_DEPTH) {
      const initializer = this.src.initializerOf(value.text);
      if (initializer) return this.kindOf(initializer, depth + 1);
    }
    return { kind: 'unknown' };
  }

  private callKind(call: ts.CallExpression): ValueKind {
    const callee = unwrap(call.expression);
    if (ts.isIdentifier(callee)) {
      return ({ String: 'string', Number: 'number', parseInt: 'number', parseFloat: 'number', Boolean: 'bool' } as Record<string, ValueKind>)[callee.text] ?? 'unknown';
    }
    if (!ts.isPropertyAccessExpression(callee)) return 'unknown';
    const owner = callee.expression.getText(this.src.file);
    const method = callee.name.text;
    if (owner === 'Math' || (owner === 'Date' && method === 'now')) return 'number';
    if (owner === 'JSON' && method === 'stringify') return 'string';
    if (DATE_TEXT_METHODS.has(method)) return 'iso-date-string';
    if (STRING_METHODS.has(method)) return 'string';
    if (NUMBER_METHODS.has(method)) return 'number';
    if (BOOLEAN_METHODS.has(method)) return 'bool';
    return 'unknown';
  }

  private outputs(): OutputsFact {
    const returned: ReturnedOutput[] = [];
    let dynamic = false;
    let anchor: Position | undefined;
    const add = (name: string, at: ts.Node, value: ts.Expression): void => {
      returned.push({ name, ...this.src.position(at), ...this.kindOf(value) });
    };
    const collect = (object: ts.ObjectLiteralExpression): void => {
      for (const property of object.properties) {
        const name = property.name && propertyKey(property.name);
        if (ts.isPropertyAssignment(property) && name !== undefined) add(name, property.name, property.initializer);
        else if (ts.isShorthandPropertyAssignment(property)) add(property.name.text, property.name, property.name);
        else dynamic = true;
      }
    };
    for (const node of this.src.nodes) {
      let value: ts.Expression | undefined;
      if (ts.isPropertyAssignment(node) && propertyKey(node.name) === 'outputFields') value = unwrap(node.initializer);
      if (ts.isShorthandPropertyAssignment(node) && node.name.text === 'outputFields') value = node.name;
      if (!value) continue;
      anchor ??= this.src.position(node);
      if (ts.isObjectLiteralExpression(value)) {
        collect(value);
        continue;
      }
      const holder = ts.isIdentifier(value) ? value.text : undefined;
      const initializer = holder ? this.src.declarationOf(holder)?.initializer : undefined;
      if (!holder || !initializer || !ts.isObjectLiteralExpression(unwrap(initializer))) {
        dynamic = true;
        continue;
      }
      collect(unwrap(initializer) as ts.ObjectLiteralExpression);
      for (const assignment of this.src.nodes) {
        if (!isAssignment(assignment) || !isAccess(assignment.left)) continue;
        const target = unwrap(assignment.left.expression);
        if (!ts.isIdentifier(target) || target.text !== holder) continue;
        const name = accessedName(assignment.left);
        if (name === undefined) dynamic = true;
        else add(name, assignment.left, assignment.right);
      }
    }
    const unique = returned.filter((output, index) => returned.findIndex((o) => o.name === output.name && o.line === output.line && o.column === output.column) === index);
    return { returned: unique, dynamic, anchor };
  }
}

/** `require('x')`, `require('x').y`: the module required. */
function requiredModule(expression: ts.Expression): string | undefined {
  let value = unwrap(expression);
  while (ts.isPropertyAccessExpression(value)) value = value.expression;
  if (ts.isCallExpression(value) && ts.isIdentifier(value.expression) && value.expression.text === 'require' && value.arguments[0] && ts.isStringLiteralLike(value.arguments[0])) {
    return value.arguments[0].text;
  }
  return undefined;
}

function bindingNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : bindingNames(element.name)));
}

/** The module string of a require, dynamic import, import or re-export. */
function moduleSpecifier(node: ts.Node): ts.StringLiteralLike | undefined {
  if (ts.isCallExpression(node) && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
    const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
    if (isRequire || node.expression.kind === ts.SyntaxKind.ImportKeyword) return node.arguments[0];
  }
  if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) return node.moduleSpecifier;
  return undefined;
}

/** Strings that name something (a property, a module, an indexed key) rather than hold a value. */
function isNameLike(node: ts.StringLiteralLike): boolean {
  const parent = node.parent;
  if (ts.isPropertyAssignment(parent) && parent.name === node) return true;
  if (ts.isElementAccessExpression(parent) && parent.argumentExpression === node) return true;
  if (ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent)) return true;
  return ts.isCallExpression(parent) && (parent.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(parent.expression) && parent.expression.text === 'require'));
}

function isCalled(call: ts.CallExpression, name: string): boolean {
  const callee = unwrap(call.expression);
  return ts.isIdentifier(callee) && callee.text === name;
}

/** Names a loop changes: assigned, incremented, or the object of a method call (items.pop()), in its body or its for-incrementor. */
function changedNames(loop: ts.IterationStatement): Set<string> {
  const changed = new Set<string>();
  const root = (expression: ts.Expression): ts.Expression => {
    let current = expression;
    while (ts.isPropertyAccessExpression(current) || ts.isElementAccessExpression(current) || ts.isParenthesizedExpression(current)) current = current.expression;
    return current;
  };
  const note = (expression: ts.Expression) => {
    const name = root(expression);
    if (ts.isIdentifier(name)) changed.add(name.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && node.operatorToken.kind <= ts.SyntaxKind.LastAssignment) note(node.left);
    if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) && (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)) note(node.operand);
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) note(node.expression.expression);
    ts.forEachChild(node, visit);
  };
  visit(loop.statement);
  if (ts.isForStatement(loop) && loop.incrementor) visit(loop.incrementor);
  return changed;
}
