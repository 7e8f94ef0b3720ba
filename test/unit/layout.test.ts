import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The tree's import rules (README, Layout). Folders are ranked along the flow; code may use values
 * from its own folder and from folders ranked below it, never from above (types may point anywhere:
 * they vanish at run time). Folders of one rank do not use each other's values either.
 */
const RANK: Record<string, number> = {
  model: 0,
  observe: 0,
  store: 1,
  registry: 2,
  compile: 3,
  drivers: 4,
  dns: 5,
  alerts: 5.5,
  tls: 6,
  gate: 7,
  vpn: 7.5,
  edge: 8,
  sources: 9,
  api: 10,
  '(root)': 11,
  cli: 12,
};

const SRC = resolve('src');

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Relative imports of one file, each marked type-only or not (dynamic `import()` is a value). */
function importsOf(file: string): Edge[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith('.')) return;
    edges.push({ from: file, to: resolve(dirname(file), spec.replace(/\.js$/, '.ts')), typeOnly });
  };
  const visit = (n: ts.Node) => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const named =
        c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly =
        !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(n.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      add(n.moduleSpecifier.text, n.isTypeOnly);
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments[0] &&
      ts.isStringLiteral(n.arguments[0])
    ) {
      add(n.arguments[0].text, false);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return edges;
}

const folderOf = (file: string): string => {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : '(root)';
};
const short = (file: string) => relative(SRC, file);

const files = sourceFiles(SRC);
const edges = files.flatMap(importsOf);

describe('layout', () => {
  it('every folder under src/ has a rank', () => {
    const unranked = [...new Set(files.map(folderOf))].filter((f) => RANK[f] === undefined);
    expect(unranked).toEqual([]);
  });

  it('no folder uses values from a folder above it (or beside it)', () => {
    const upward = edges
      .filter((e) => !e.typeOnly && folderOf(e.from) !== folderOf(e.to))
      .filter((e) => RANK[folderOf(e.to)]! >= RANK[folderOf(e.from)]!)
      .map((e) => `${short(e.from)} → ${short(e.to)}`);
    expect(upward).toEqual([]);
  });

  it('no two files use each other’s values, directly or round a circle', () => {
    const next = new Map<string, string[]>();
    for (const e of edges) if (!e.typeOnly) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    // Tarjan's strongly connected components: any with more than one file is a circle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const circles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      onStack.add(v);
      for (const w of next.get(v) ?? []) {
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          c.push(short(w));
        } while (w !== v);
        if (c.length > 1) circles.push(c.sort());
      }
    };
    for (const f of files) if (!idx.has(f)) visit(f);
    expect(circles).toEqual([]);
  });
});
