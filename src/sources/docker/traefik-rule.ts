/**
 * Traefik router rules (`Host(`a`) && PathPrefix(`/api`)`) → the hosts and path prefixes of one
 * Gatehouse service. Only Host, Path and PathPrefix joined by && and || (with parentheses) have an
 * equivalent; any other matcher narrows who reaches the router, so dropping it would publish more
 * than the rule allows: such a rule is refused, never approximated.
 */

type Token =
  | { kind: 'ident'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'op'; text: '(' | ')' | ',' | '&&' | '||' | '!' };

interface Atom {
  matcher: string;
  args: string[];
}

/** Disjunctive normal form: any of the conjunctions, each all of its atoms. */
type Dnf = Atom[][];

export interface RulePath {
  value: string;
  /** Path() matches exactly in Traefik; Gatehouse routes by prefix. */
  exact: boolean;
}

export type RuleResult = { hosts: string[]; paths: RulePath[] } | { error: string };

/** More alternatives than this is not a hand-written rule; refuse it rather than expand it. */
const MAX_TERMS = 64;

function tokenize(rule: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < rule.length) {
    const c = rule[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '`' || c === '"') {
      const end = rule.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated string at ${i + 1}`);
      out.push({ kind: 'string', text: rule.slice(i + 1, end) });
      i = end + 1;
    } else if (rule.startsWith('&&', i) || rule.startsWith('||', i)) {
      out.push({ kind: 'op', text: rule.slice(i, i + 2) as '&&' | '||' });
      i += 2;
    } else if ('(),!'.includes(c)) {
      out.push({ kind: 'op', text: c as '(' | ')' | ',' | '!' });
      i++;
    } else if (/[A-Za-z]/.test(c)) {
      const m = /^[A-Za-z][A-Za-z0-9]*/.exec(rule.slice(i)) as RegExpExecArray;
      out.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else {
      throw new Error(`unexpected "${c}" at ${i + 1}`);
    }
  }
  return out;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t?.kind === 'op' && t.text === text;
  }

  private expect(text: string): void {
    if (!this.isOp(text)) throw new Error(`expected "${text}"`);
    this.pos++;
  }

  parse(): Dnf {
    const d = this.or();
    if (this.peek()) throw new Error('unexpected text after the rule');
    return d;
  }

  private or(): Dnf {
    let d = this.and();
    while (this.isOp('||')) {
      this.pos++;
      d = [...d, ...this.and()];
      if (d.length > MAX_TERMS) throw new Error(`more than ${MAX_TERMS} alternatives`);
    }
    return d;
  }

  private and(): Dnf {
    let d = this.unary();
    while (this.isOp('&&')) {
      this.pos++;
      const right = this.unary();
      d = d.flatMap((l) => right.map((r) => [...l, ...r]));
      if (d.length > MAX_TERMS) throw new Error(`more than ${MAX_TERMS} alternatives`);
    }
    return d;
  }

  private unary(): Dnf {
    if (this.isOp('!')) throw new Error('"!" (negation) is not supported');
    if (this.isOp('(')) {
      this.pos++;
      const d = this.or();
      this.expect(')');
      return d;
    }
    const t = this.peek();
    if (t?.kind !== 'ident') throw new Error('expected a matcher such as Host(`example.com`)');
    this.pos++;
    this.expect('(');
    const args: string[] = [];
    while (!this.isOp(')')) {
      const a = this.peek();
      if (a?.kind !== 'string') throw new Error(`${t.text}: arguments are quoted strings`);
      args.push(a.text);
      this.pos++;
      if (!this.isOp(')')) this.expect(',');
    }
    this.pos++;
    return [[{ matcher: t.text, args }]];
  }
}

const HOST = new Set(['Host', 'HostHeader']);
const PATH = new Set(['Path', 'PathPrefix']);

/** One conjunction → its host set and at most one path. */
function term(atoms: Atom[]): { hosts: string[]; paths: RulePath[] } | { error: string } {
  let hosts: string[] | undefined;
  const paths: RulePath[][] = [];
  for (const a of atoms) {
    if (a.args.length === 0) return { error: `${a.matcher}() needs an argument` };
    if (HOST.has(a.matcher)) {
      const set = a.args.map((h) => h.trim().toLowerCase());
      hosts = hosts ? hosts.filter((h) => set.includes(h)) : set;
      if (hosts.length === 0) return { error: 'Host matchers joined by && have no host in common' };
    } else if (PATH.has(a.matcher)) {
      paths.push(a.args.map((value) => ({ value, exact: a.matcher === 'Path' })));
    } else {
      return {
        error: `matcher ${a.matcher} is not supported (Host, Path and PathPrefix are); the router is not published`,
      };
    }
  }
  if (!hosts) return { error: 'every alternative of the rule needs a Host(...) matcher' };
  if (paths.length > 1) return { error: 'several path matchers joined by && are not supported' };
  return { hosts, paths: paths[0] ?? [{ value: '/', exact: false }] };
}

/**
 * The hosts and paths a rule routes. Gatehouse serves every path of a service on every host of it,
 * so the rule must route exactly that cross product (as `Host(a) || Host(b)`, or
 * `Host(a) && (PathPrefix(/x) || PathPrefix(/y))` do); anything else needs one router per host group.
 */
export function parseRule(rule: string): RuleResult {
  let dnf: Dnf;
  try {
    dnf = new Parser(tokenize(rule)).parse();
  } catch (err) {
    return { error: `cannot read the rule: ${(err as Error).message}` };
  }
  const pairs = new Set<string>();
  const hosts = new Set<string>();
  const paths = new Map<string, RulePath>();
  for (const atoms of dnf) {
    const t = term(atoms);
    if ('error' in t) return t;
    for (const h of t.hosts) hosts.add(h);
    for (const p of t.paths) {
      const key = `${p.exact ? '=' : '^'}${p.value}`;
      paths.set(key, p);
      for (const h of t.hosts) pairs.add(`${h} ${key}`);
    }
  }
  if (pairs.size !== hosts.size * paths.size) {
    return {
      error: 'the rule pairs different hosts with different paths; split it into one router per host group',
    };
  }
  const byValue = new Map<string, RulePath>();
  for (const p of paths.values()) {
    // Path(/x) and PathPrefix(/x) become the same prefix route: keep the wider.
    const seen = byValue.get(p.value);
    if (!seen || seen.exact) byValue.set(p.value, p);
  }
  return { hosts: [...hosts], paths: [...byValue.values()] };
}
