/**
 * Hook scripts the exec DNS provider's tests write: an operator's script as one would write it for
 * lego's exec provider (nsupdate to the test's BIND, its key in the provider's env), one that fails,
 * one that hangs, one that leaves a child behind.
 */

/** An operator's hook script as one would write it for lego's exec provider: nsupdate to BIND. */
const hook = (zone: string) => `#!/bin/sh
set -eu
action="$1"; fqdn="$2"; value="$3"
type="$GATEHOUSE_RECORD_TYPE"; ttl="$GATEHOUSE_RECORD_TTL"
case "$type" in TXT) data="\\"$value\\"";; CNAME) data="$value.";; *) data="$value";; esac
if [ "$action" = present ]; then line="update add $fqdn $ttl $type $data"
elif [ -z "$value" ]; then line="update delete $fqdn $type"
else line="update delete $fqdn $type $data"; fi
env | sort > "$ENV_DUMP"
printf 'key hmac-sha256:%s %s\\nserver 127.0.0.1 %s\\nzone ${zone}.\\n%s\\nsend\\n' \\
  "$TSIG_NAME" "$TSIG_SECRET" "$DNS_PORT" "$line" | nsupdate -t 5
echo "$action $fqdn $type $value" >> "$CALLS"
`;
const FAILING = `#!/bin/sh
echo "calling the API with key $API_KEY: 403 forbidden" >&2
exit 3
`;
/** Hangs before writing: past the timeout, the whole group (the sleep too) must go, the update never sent. */
const hanging = (zone: string) => `#!/bin/sh
sleep 30 &
echo $! > "$PID_FILE"
wait
printf 'key hmac-sha256:%s %s\\nserver 127.0.0.1 %s\\nupdate add late.hang.${zone}. 60 A 192.0.2.99\\nsend\\n' \\
  "$TSIG_NAME" "$TSIG_SECRET" "$DNS_PORT" | nsupdate -t 5
`;

/** Exits at once, leaving a child (holding stderr) behind. */
const LINGERING = `#!/bin/sh
sleep 30 &
echo $! > "$PID_FILE"
exit 0
`;

export function hookScripts(zone: string): Record<'hook.sh' | 'fail.sh' | 'hang.sh' | 'linger.sh', string> {
  return { 'hook.sh': hook(zone), 'fail.sh': FAILING, 'hang.sh': hanging(zone), 'linger.sh': LINGERING };
}
