// The part of CEL that Telemetry tag overrides and access-log filters use in practice (policy.md §4.2, §4.3):
// string and integer literals, attribute paths (`request.host`), map lookups (`request.headers['x-user']`),
// `string(...)`, `int(...)`, comparisons, `!`, `&&`, `||` and parentheses. Anything else is a config error, so a
// typo is caught when the config is applied rather than silently logged as "unknown".

import { AmbitError } from "../../errors.js";

export type Value = string | number | boolean | undefined | Readonly<Record<string, unknown>>;
/** Resolves an attribute path such as ["request", "headers"]; undefined when absent. */
export type Attributes = (path: readonly string[]) => Value;
export type Expr = (attrs: Attributes) => Value;

type Token = { t: "str"; v: string } | { t: "num"; v: number } | { t: "id"; v: string } | { t: "op"; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t") {
      i++;
    } else if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw bad(src, "unterminated string");
      out.push({ t: "str", v: src.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(src.slice(i))![0];
      out.push({ t: "num", v: Number(m) });
      i += m.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))![0];
      out.push({ t: "id", v: m });
      i += m.length;
    } else {
      const two = src.slice(i, i + 2);
      if (["==", "!=", ">=", "<=", "&&", "||"].includes(two)) {
        out.push({ t: "op", v: two });
        i += 2;
      } else if ("<>!().[]".includes(c)) {
        out.push({ t: "op", v: c });
        i++;
      } else {
        throw bad(src, `unexpected "${c}"`);
      }
    }
  }
  return out;
}

function bad(src: string, why: string): AmbitError {
  return new AmbitError("AMBIT_WAYPOINT_CONFIG", `unsupported expression "${src}": ${why}`);
}

function truthy(v: Value): boolean {
  return v !== undefined && v !== false && v !== "" && v !== 0;
}

function compare(op: string, a: Value, b: Value): boolean {
  if (op === "==") return a === b;
  if (op === "!=") return a !== b;
  if (typeof a !== typeof b || (typeof a !== "number" && typeof a !== "string")) return false;
  const x = a as number | string;
  const y = b as number | string;
  return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
}

export function compileExpr(src: string): Expr {
  const toks = tokenize(src);
  let pos = 0;
  const peek = (v?: string) => {
    const t = toks[pos];
    return t !== undefined && (v === undefined || (t.t === "op" && t.v === v));
  };
  const expect = (v: string) => {
    if (!peek(v)) throw bad(src, `expected "${v}"`);
    pos++;
  };

  const primary = (): Expr => {
    const t = toks[pos++];
    if (!t) throw bad(src, "unexpected end");
    if (t.t === "str" || t.t === "num") {
      const v = t.v;
      return () => v;
    }
    if (t.t === "op" && t.v === "(") {
      const e = or();
      expect(")");
      return e;
    }
    if (t.t === "op" && t.v === "!") {
      const e = primary();
      return (a) => !truthy(e(a));
    }
    if (t.t !== "id") throw bad(src, `unexpected "${t.v}"`);
    if (t.v === "true" || t.v === "false") {
      const v = t.v === "true";
      return () => v;
    }
    if ((t.v === "string" || t.v === "int") && peek("(")) {
      pos++;
      const e = or();
      expect(")");
      return t.v === "string"
        ? (a) => {
            const v = e(a);
            return v === undefined ? undefined : String(v);
          }
        : (a) => {
            const v = Number(e(a));
            return Number.isFinite(v) ? Math.trunc(v) : undefined;
          };
    }
    const path = [t.v];
    const lookups: Expr[] = [];
    for (;;) {
      if (peek(".")) {
        pos++;
        const id = toks[pos++];
        if (id?.t !== "id") throw bad(src, "expected a name after '.'");
        if (lookups.length > 0) throw bad(src, "field access after an index");
        path.push(id.v);
      } else if (peek("[")) {
        pos++;
        lookups.push(or());
        expect("]");
      } else {
        break;
      }
    }
    return (a) => {
      let v: Value = a(path);
      for (const k of lookups) {
        if (v === undefined || typeof v !== "object") return undefined;
        v = (v as Record<string, Value>)[String(k(a))];
      }
      return v;
    };
  };

  const cmp = (): Expr => {
    const left = primary();
    const t = toks[pos];
    if (t?.t === "op" && ["==", "!=", ">=", "<=", "<", ">"].includes(t.v)) {
      pos++;
      const right = primary();
      return (a) => compare(t.v, left(a), right(a));
    }
    return left;
  };
  const and = (): Expr => {
    let e = cmp();
    while (peek("&&")) {
      pos++;
      const l = e;
      const r = cmp();
      e = (a) => truthy(l(a)) && truthy(r(a));
    }
    return e;
  };
  function or(): Expr {
    let e = and();
    while (peek("||")) {
      pos++;
      const l = e;
      const r = and();
      e = (a) => truthy(l(a)) || truthy(r(a));
    }
    return e;
  }

  const e = or();
  if (pos !== toks.length) throw bad(src, "trailing input");
  return e;
}

export { truthy as isTruthy };
