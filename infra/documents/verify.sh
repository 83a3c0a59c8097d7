#!/bin/bash
# adjoin verify document: proves the join by resolving directory users through NSS (SSSD), the
# way SSM Session Manager "Run As" and sshd do (getpwnam): `getent passwd` and `id` for each
# probe user. SSSD may need a moment after it starts: bounded retries (about 20 s in all).
# Parameters: see join.sh for how they arrive (SSM_<Name>, or the single-quoted fallback).
# param: ProbeUsers | directory users that must resolve, comma or space separated
# param: DomainName | DNS name of the AD domain (shown in messages) | - | ^[-A-Za-z0-9.]{0,253}$
# param: LoginGroups | login groups of this instance (shown in messages) | - | ^[A-Za-z0-9 _.,-]{0,1024}$
#
# Exit codes: 0 every user resolves; 7 a user does not resolve (outputs shown); 2 bad parameter.
# The join document runs this script right after join.sh, in the same command (joinScript in
# infra/documents.ts): exit 7 is how the join task tells VerificationFailed from a failed join.
set -euo pipefail
export LC_ALL=C

LB='{'
param_value() {
  local env="SSM_$1"
  if [ -n "${!env+x}" ] && [[ "${!env}" != *"$LB$LB"* ]]; then printf '%s' "${!env}"; else printf '%s' "$2"; fi
}
PROBE_USERS=$(param_value ProbeUsers '{{ProbeUsers}}')
DOMAIN_NAME=$(param_value DomainName '{{DomainName}}')
LOGIN_GROUPS=$(param_value LoginGroups '{{LoginGroups}}')

fail() {
  printf 'adjoin: FAILED: %s\n' "$*" >&2
  exit "${CODE:-7}"
}
case "$PROBE_USERS$DOMAIN_NAME$LOGIN_GROUPS" in *"$LB$LB"*) CODE=2 fail "a parameter was not substituted" ;; esac
[[ "$PROBE_USERS" =~ ^[A-Za-z0-9\ ,._@-]{1,1024}$ ]] || CODE=2 fail "parameter ProbeUsers is not valid: ${PROBE_USERS:0:200}"
USERS=()
for u in ${PROBE_USERS//,/ }; do USERS+=("$u"); done
[ "${#USERS[@]}" -ge 1 ] || CODE=2 fail "parameter ProbeUsers is empty"
printf 'adjoin: checking %s on %s (domain %s, login groups %s)\n' "${USERS[*]}" "$(hostname)" "${DOMAIN_NAME:--}" "${LOGIN_GROUPS:--}"

failed=()
for u in "${USERS[@]}"; do
  ok=false
  pw=
  ids=
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if pw=$(getent passwd "$u" 2>&1) && ids=$(id "$u" 2>&1); then
      ok=true
      break
    fi
    # A negative answer from before SSSD was online is cached: forget it, then ask again.
    command -v sss_cache >/dev/null 2>&1 && sss_cache -u "$u" >/dev/null 2>&1 || true
    sleep "$((attempt < 4 ? 1 : 2))"
  done
  if $ok; then
    printf 'adjoin: %s resolves: %s\n' "$u" "$pw"
    printf 'adjoin: %s\n' "$ids"
  else
    printf 'adjoin: %s does NOT resolve after %s attempts\n' "$u" "$attempt"
    printf '  getent passwd %s: %s\n' "$u" "${pw:-<no entry>}"
    printf '  id %s: %s\n' "$u" "$(id "$u" 2>&1 || true)"
    failed+=("$u")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  {
    printf 'adjoin: SSSD state:\n'
    if command -v sssctl >/dev/null 2>&1; then sssctl domain-list 2>&1 | sed 's/^/  /' || true; fi
    if [ -r /var/log/sssd/sssd.log ]; then tail -n 5 /var/log/sssd/sssd.log 2>/dev/null | sed 's/^/  /'; fi
  } >&2
  fail "${failed[*]} did not resolve through NSS: check that sssd runs, /etc/nsswitch.conf lists sss, and the instance reaches the domain controllers"
fi
printf 'adjoin: verified: %s resolve\n' "${USERS[*]}"
