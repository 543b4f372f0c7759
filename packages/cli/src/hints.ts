/**
 * The broker's messages end with what to do in the API's words (a field such as if_not_exists, an RPC such as
 * AdminService.CreateTopic). The CLI says the same in its own words: flags and commands.
 */
const rewrites: [RegExp, (...groups: string[]) => string][] = [
  [
    /\btopic '([^']+)' does not exist; create it first \(AdminService\.CreateTopic\)/,
    (name) => `topic '${name}' does not exist; create it first with \`cebus topics create ${name}\``,
  ],
  [
    /\bsubscription '([^']+)' does not exist; create it first \(AdminService\.CreateSubscription\)/,
    (name) =>
      `subscription '${name}' does not exist; create it first with \`cebus subscriptions create ${name} --topic TOPIC\``,
  ],
  [
    /\bsubscription\.topic '([^']+)' does not exist; create the topic first \(AdminService\.CreateTopic\)/,
    (name) => `--topic '${name}' does not exist; create it first with \`cebus topics create ${name}\``,
  ],
  [
    /\bsubscription\.dead_letter_topic '([^']+)' does not exist; create that topic first \(AdminService\.CreateTopic\)/,
    (name) => `--dead-letter '${name}' does not exist; create it first with \`cebus topics create ${name}\``,
  ],
  [/\bset if_not_exists to reuse it/, () => "add --if-not-exists to reuse it"],
  [/\bor request the same settings/, () => "or give the same flags"],
  [/\bset force to delete them too/, () => "add --force to delete them too"],
  [
    /\bcreate a new subscription with dead_letter_topic set/,
    () => "create a new subscription with --dead-letter TOPIC",
  ],
  [/\btopic\.partitions\b/, () => "--partitions"],
  [/\btopic\.retention\b/, () => "--retention"],
  [/\btopic\.dedupe_window\b/, () => "--dedupe-window"],
  [/\btopic\.max_event_bytes\b/, () => "--max-event-bytes"],
  [/\bsubscription\.ack_deadline\b/, () => "--ack-deadline"],
  [/\bsubscription\.max_delivery_attempts\b/, () => "--max-attempts"],
  [/\bsubscription\.start_position\b/, () => "--start"],
  [/\bsubscription\.dead_letter_topic\b/, () => "--dead-letter"],
  [/\bsubscription\.topic\b/, () => "--topic"],
];

/** Rewrites the API's hints in a broker message into the CLI's flags and commands. */
export function inCliWords(message: string): string {
  let out = message;
  for (const [pattern, replace] of rewrites) {
    // A replacer gets (match, group 1, ..., offset, whole string): pass on the groups only.
    out = out.replace(pattern, (_match, ...args: unknown[]) => replace(...(args.slice(0, -2) as string[])));
  }
  return out;
}
