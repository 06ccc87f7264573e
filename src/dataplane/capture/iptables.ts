// The rules istio-cni installs inside each pod's netns (data-plane.md §2.3), rendered for iptables-restore
// and applied, read back and removed in a named netns. Rule text is in iptables-save's normalised form, so
// what we render can be compared with what the kernel reports.
import { AmbitError } from "../../errors.js";
import {
  HOST_PROBE_SNAT,
  hex,
  INPOD_MARK,
  INPOD_MASK,
  INPOD_RESTORE_MASK,
  INPOD_RULE_PRIORITY,
  INPOD_TPROXY_MARK,
  ROUTE_TABLE_INBOUND,
  ZtunnelPorts,
} from "./constants.js";
import { run } from "./exec.js";
import { netnsPath } from "./netns.js";

export type Table = "mangle" | "nat" | "raw";

export interface InpodRule {
  table: Table;
  chain: string;
  /** Everything after `-A <chain> `. */
  spec: string;
}

export interface InpodRulesOptions {
  /** 4 renders for iptables, 6 for ip6tables. Default 4. */
  family?: 4 | 6;
  /** Redirect the pod's DNS (UDP and TCP port 53) to ztunnel's DNS proxy on 15053. Default false. */
  captureDns?: boolean;
}

export const CHAIN_PREROUTING = "ISTIO_PRERT";
export const CHAIN_OUTPUT = "ISTIO_OUTPUT";
const OWN_CHAINS = new Set([CHAIN_PREROUTING, CHAIN_OUTPUT]);
const TABLE_ORDER: readonly Table[] = ["mangle", "nat", "raw"];

/** The in-pod ruleset in the order istio-cni appends it (AppendInpodRules). */
export function inpodRules(options: InpodRulesOptions = {}): InpodRule[] {
  const v6 = options.family === 6;
  const localhost = v6 ? "::1/128" : "127.0.0.1/32";
  const probe = v6 ? `${HOST_PROBE_SNAT.v6}/128` : `${HOST_PROBE_SNAT.v4}/32`;
  const mark = `${hex(INPOD_MARK)}/${hex(INPOD_MASK)}`;
  const tproxyMark = `${hex(INPOD_TPROXY_MARK)}/${hex(INPOD_MASK)}`;
  const restoreMask = hex(INPOD_RESTORE_MASK);
  const rule = (table: Table, chain: string, spec: string): InpodRule => ({ table, chain, spec });

  const rules: InpodRule[] = [
    rule("mangle", "PREROUTING", `-j ${CHAIN_PREROUTING}`),
    rule("mangle", "OUTPUT", `-j ${CHAIN_OUTPUT}`),
    rule("nat", "PREROUTING", `-j ${CHAIN_PREROUTING}`),
    rule("nat", "OUTPUT", `-j ${CHAIN_OUTPUT}`),
  ];
  if (options.captureDns) {
    rules.push(rule("raw", "PREROUTING", `-j ${CHAIN_PREROUTING}`), rule("raw", "OUTPUT", `-j ${CHAIN_OUTPUT}`));
  }
  rules.push(
    // Packets from ztunnel's own sockets stamp their connection, so the app's replies can be routed back to it.
    rule("mangle", CHAIN_PREROUTING, `-m mark --mark ${mark} -j CONNMARK --set-xmark ${tproxyMark}`),
    // Node-local probes (SNAT-ed to the probe address on the host) skip capture both ways.
    rule("nat", CHAIN_PREROUTING, `-s ${probe} -p tcp -m tcp -j ACCEPT`),
    rule("nat", CHAIN_OUTPUT, `-d ${probe} -p tcp -m tcp -j ACCEPT`),
    // Inbound TCP goes to ztunnel's plaintext port, except HBONE (15008) and ztunnel's own connections.
    rule(
      "nat",
      CHAIN_PREROUTING,
      `! -d ${localhost} -p tcp -m tcp ! --dport ${ZtunnelPorts.inboundHbone} -m mark ! --mark ${mark} -j REDIRECT --to-ports ${ZtunnelPorts.inboundPlaintext}`,
    ),
    rule(
      "mangle",
      CHAIN_OUTPUT,
      `-m connmark --mark ${tproxyMark} -j CONNMARK --restore-mark --nfmask ${restoreMask} --ctmask ${restoreMask}`,
    ),
  );
  if (options.captureDns) {
    rules.push(
      rule(
        "nat",
        CHAIN_OUTPUT,
        `! -o lo -p udp -m mark ! --mark ${mark} -m udp --dport 53 -j REDIRECT --to-ports ${ZtunnelPorts.dns}`,
      ),
      rule(
        "nat",
        CHAIN_OUTPUT,
        `! -d ${localhost} -p tcp -m tcp --dport 53 -m mark ! --mark ${mark} -j REDIRECT --to-ports ${ZtunnelPorts.dns}`,
      ),
      // Separate conntrack zone for proxy<->upstream DNS, so its 4-tuples never collide with app<->proxy ones.
      rule("raw", CHAIN_OUTPUT, `-p udp -m mark --mark ${mark} -m udp --dport 53 -j CT --zone 1`),
      rule("raw", CHAIN_PREROUTING, `-p udp -m mark ! --mark ${mark} -m udp --sport 53 -j CT --zone 1`),
    );
  }
  rules.push(
    // Replies on ztunnel's transparent connections are not captured again.
    rule("nat", CHAIN_OUTPUT, `-p tcp -m mark --mark ${tproxyMark} -j ACCEPT`),
    // The pod calling its own IP, and ztunnel delivering to the app, stay on lo uncaptured.
    rule("nat", CHAIN_OUTPUT, `! -d ${localhost} -o lo -j ACCEPT`),
    rule(
      "nat",
      CHAIN_OUTPUT,
      `! -d ${localhost} -p tcp -m mark ! --mark ${mark} -j REDIRECT --to-ports ${ZtunnelPorts.outbound}`,
    ),
  );
  return rules;
}

/** The iptables-restore --noflush payload: declares our chains (which empties them) and appends the rules. */
export function renderInpodRules(options: InpodRulesOptions = {}): string {
  const rules = inpodRules(options);
  const lines: string[] = [];
  for (const table of TABLE_ORDER) {
    const inTable = rules.filter((r) => r.table === table);
    if (inTable.length === 0) continue;
    lines.push(`*${table}`, `:${CHAIN_PREROUTING} - [0:0]`, `:${CHAIN_OUTPUT} - [0:0]`);
    for (const r of inTable) lines.push(`-A ${r.chain} ${r.spec}`);
    lines.push("COMMIT");
  }
  return `${lines.join("\n")}\n`;
}

function tools(family: 4 | 6): { save: string; restore: string; ip: string } {
  return family === 6
    ? { save: "ip6tables-save", restore: "ip6tables-restore", ip: "-6" }
    : { save: "iptables-save", restore: "iptables-restore", ip: "-4" };
}

function inNetns(netns: string, command: string, args: string[] = []): [string, string[]] {
  netnsPath(netns);
  return ["ip", ["netns", "exec", netns, command, ...args]];
}

/**
 * Installs the in-pod rules and the policy routing of §2.3 (fwmark 0x111 → table 100 → local via lo).
 * Re-applying first removes what a previous apply left, so the result is always exactly one copy.
 */
export async function applyInpodRules(netns: string, options: InpodRulesOptions = {}): Promise<void> {
  const family = options.family ?? 4;
  const t = tools(family);
  await removeInpodRules(netns, { family });
  await run(...inNetns(netns, t.restore, ["--noflush"]), { input: renderInpodRules(options) });
  const fwmark = `${hex(INPOD_TPROXY_MARK)}/${hex(INPOD_MASK)}`;
  await run("ip", [
    "-n",
    netns,
    t.ip,
    "rule",
    "add",
    "fwmark",
    fwmark,
    "pref",
    String(INPOD_RULE_PRIORITY),
    "lookup",
    String(ROUTE_TABLE_INBOUND),
  ]);
  await run("ip", [
    "-n",
    netns,
    t.ip,
    "route",
    "add",
    "local",
    "default",
    "dev",
    "lo",
    "table",
    String(ROUTE_TABLE_INBOUND),
  ]);
}

/** Parses iptables-save output into our rules (jumps into our chains and the chains' contents). */
export function parseInpodRules(save: string): InpodRule[] {
  const rules: InpodRule[] = [];
  let table: Table | undefined;
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) {
      const name = line.slice(1).trim();
      table = (TABLE_ORDER as readonly string[]).includes(name) ? (name as Table) : undefined;
      continue;
    }
    const match = /^-A (\S+) (.*)$/.exec(line);
    if (!table || !match) continue;
    const [, chain, spec] = match as unknown as [string, string, string];
    if (isOurs(chain, spec)) rules.push({ table, chain, spec });
  }
  return rules;
}

function isOurs(chain: string, spec: string): boolean {
  const target = /(?:^|\s)-j (\S+)/.exec(spec)?.[1];
  return OWN_CHAINS.has(chain) || (target !== undefined && OWN_CHAINS.has(target));
}

export async function readInpodRules(netns: string, family: 4 | 6 = 4): Promise<InpodRule[]> {
  const { stdout } = await run(...inNetns(netns, tools(family).save));
  return parseInpodRules(stdout);
}

/** The iptables-save dump without our chains and jumps; restoring it removes exactly what we added. */
export function withoutInpodRules(save: string): string {
  return save
    .split("\n")
    .filter((line) => {
      const declared = /^:(\S+) /.exec(line)?.[1];
      if (declared !== undefined) return !OWN_CHAINS.has(declared);
      const match = /^-A (\S+) (.*)$/.exec(line);
      return !match || !isOurs(match[1]!, match[2]!);
    })
    .join("\n");
}

/** Removes the rules and policy routing; capture stops at once, sockets and processes are untouched. */
export async function removeInpodRules(netns: string, options: Pick<InpodRulesOptions, "family"> = {}): Promise<void> {
  const family = options.family ?? 4;
  const t = tools(family);
  const { stdout } = await run(...inNetns(netns, t.save));
  if (parseInpodRules(stdout).length > 0 || /^:ISTIO_(PRERT|OUTPUT) /m.test(stdout)) {
    await run(...inNetns(netns, t.restore), { input: withoutInpodRules(stdout) });
  }
  const fwmark = `${hex(INPOD_TPROXY_MARK)}/${hex(INPOD_MASK)}`;
  const ruleArgs = ["fwmark", fwmark, "pref", String(INPOD_RULE_PRIORITY), "lookup", String(ROUTE_TABLE_INBOUND)];
  // `ip rule add` allows duplicates, so delete until none is left.
  for (let i = 0; i < 16; i++) {
    const del = await run("ip", ["-n", netns, t.ip, "rule", "del", ...ruleArgs], { allowFailure: true });
    if (del.code !== 0) break;
  }
  await run("ip", ["-n", netns, t.ip, "route", "flush", "table", String(ROUTE_TABLE_INBOUND)], { allowFailure: true });
  const left = await readInpodRules(netns, family);
  if (left.length > 0) {
    throw new AmbitError("AMBIT_CAPTURE_RULES_REMAIN", `in-pod rules still present in ${netns}: ${left.length}`);
  }
}
