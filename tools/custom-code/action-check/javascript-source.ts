import ts from 'typescript';
import { Position } from './finding';

export type FunctionNode =
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.ArrowFunction
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

export function isFunctionNode(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

export function isLoop(node: ts.Node): node is ts.IterationStatement {
  return ts.isForStatement(node) || ts.isForOfStatement(node) || ts.isForInStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node);
}

export function unwrap(expression: ts.Expression): ts.Expression {
  let current = expression;
  while (ts.isParenthesizedExpression(current) || ts.isAwaitExpression(current)) current = current.expression;
  return current;
}

/** The name of a property key: `a`, `'a'`, `"a"`, `1`. */
export function propertyKey(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
  return undefined;
}

/** The property an access reads: `x.a` and `x['a']` give a. */
export function accessedName(node: ts.Node): string | undefined {
  if (ts.isPropertyAccessExpression(node)) return node.name.text;
  if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) return node.argumentExpression.text;
  return undefined;
}

export function isAccess(node: ts.Node): node is ts.PropertyAccessExpression | ts.ElementAccessExpression {
  return ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node);
}

const ASSIGNMENTS = new Set([
  ts.SyntaxKind.EqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.PlusEqualsToken,
]);

export function isAssignment(node: ts.Node): node is ts.BinaryExpression {
  return ts.isBinaryExpression(node) && ASSIGNMENTS.has(node.operatorToken.kind);
}

/**
 * One parsed action file, with the name-based lookups the rules need. Names are resolved across
 * the whole file without scopes: action files are short, and a name declared twice is left unresolved.
 */
export class JavaScriptSource {
  readonly file: ts.SourceFile;
  private readonly declarations = new Map<string, ts.VariableDeclaration[]>();
  private readonly reassigned = new Set<string>();
  private readonly functions = new Map<string, FunctionNode[]>();
  private readonly calls = new Map<string, ts.CallExpression[]>();
  readonly nodes: ts.Node[] = [];

  constructor(text: string, fileName: string) {
    this.file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    const visit = (node: ts.Node): void => {
      this.nodes.push(node);
      this.index(node);
      ts.forEachChild(node, visit);
    };
    visit(this.file);
  }

  private index(node: ts.Node): void {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) {
      push(this.declarations, node.name.text, node);
      if (node.initializer && isFunctionNode(unwrap(node.initializer))) push(this.functions, node.name.text, unwrap(node.initializer) as FunctionNode);
    }
    if (ts.isFunctionDeclaration(node) && node.name) push(this.functions, node.name.text, node);
    if (isAssignment(node) && ts.isIdentifier(node.left)) this.reassigned.add(node.left.text);
    if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) && ts.isIdentifier(node.operand)) this.reassigned.add(node.operand.text);
    if (ts.isCallExpression(node)) {
      const callee = unwrap(node.expression);
      if (ts.isIdentifier(callee)) push(this.calls, callee.text, node);
    }
  }

  position(node: ts.Node): Position {
    const { line, character } = this.file.getLineAndCharacterOfPosition(node.getStart(this.file));
    return { line: line + 1, column: character + 1 };
  }

  text(node: ts.Node, max = 60): string {
    const text = node.getText(this.file).replace(/\s+/g, ' ');
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }

  /** The one declaration of this name, when there is exactly one. */
  declarationOf(name: string): ts.VariableDeclaration | undefined {
    const found = this.declarations.get(name);
    return found?.length === 1 ? found[0] : undefined;
  }

  /** The value a name always holds: its single declaration's initializer, if it is never assigned again. */
  initializerOf(name: string): ts.Expression | undefined {
    if (this.reassigned.has(name)) return undefined;
    return this.declarationOf(name)?.initializer;
  }

  functionNamed(name: string): FunctionNode | undefined {
    const found = this.functions.get(name);
    return found?.length === 1 ? found[0] : undefined;
  }

  callsOf(name: string): ts.CallExpression[] {
    return this.calls.get(name) ?? [];
  }

  /** The name a function is known by in this file: its own, or that of the variable holding it. */
  nameOf(fn: FunctionNode): string | undefined {
    if ((ts.isFunctionDeclaration(fn) || ts.isFunctionExpression(fn)) && fn.name) return fn.name.text;
    let holder: ts.Node = fn.parent;
    while (ts.isParenthesizedExpression(holder)) holder = holder.parent;
    if (ts.isVariableDeclaration(holder) && ts.isIdentifier(holder.name)) return holder.name.text;
    return undefined;
  }

  enclosingFunction(node: ts.Node): FunctionNode | undefined {
    let current = node.parent;
    while (current && !isFunctionNode(current)) current = current.parent;
    return current;
  }

  /** Every node under `root`, not descending into nested functions. */
  within(root: ts.Node, visit: (node: ts.Node) => void): void {
    const walk = (node: ts.Node): void => {
      visit(node);
      if (!isFunctionNode(node)) ts.forEachChild(node, walk);
    };
    ts.forEachChild(root, walk);
  }

  /** Every node under `root`, nested functions included. */
  everyNodeUnder(root: ts.Node, visit: (node: ts.Node) => boolean | void): boolean {
    const walk = (node: ts.Node): boolean => visit(node) === true || ts.forEachChild(node, walk) === true;
    return ts.forEachChild(root, walk) === true;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
