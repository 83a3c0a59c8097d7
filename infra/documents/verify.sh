#!/bin/bash
# adjoin verify document: proves the join by resolving directory users through NSS (SSSD), the
# way SSM Session Manager "Run As" and sshd do (getpwnam): `getent passwd` and `id` for each
# probe user. SSSD may need a moment after it starts: bounded retries (about 20 s in all).
# Parameters: see join.sh for how they arrive (only as SSM_<Name> environment variables, SSM
# Agent 3.3.3572.0 or later; every value matched its allowed pattern before it was sent).
# param: ProbeUsers | directory users that must resolve, comma or space separated | (required) | ^[A-Za-z0-9 ,._@-]{1,1024}$
# param: DomainName | DNS name of the AD domain (shown in messages) | - | ^[-A-Za-z0-9.]{0,253}$
# param: LoginGroups | login groups of this instance (shown in messages) | - | ^[A-Za-z0-9 _.,-]{0,1024}$
#
# Exit codes: 0 every user resolves; 7 a user does not resolve (outputs shown); 2 bad parameter.
# The join document runs this script right after join.sh, in the same command (joinScript in
# infra/documents.ts): exit 7 is how the join task tells VerificationFailed from a failed join.
set -euo pipefail
export LC_ALL=C

fail() {
  printf 'adjoin: FAILED: %s\n' "$*" >&2
  exit "${CODE:-7}"
}
# param VAR NAME: VAR=$SSM_NAME, as the agent handed it over (never read from this text).
param() {
  local env="SSM_$2"
  [ -n "${!env+x}" ] || CODE=2 fail "parameter $2 is missing: \$$env is not set (this document needs SSM Agent 3.3.3572.0 or later)"
  printf -v "$1" '%s' "${!env}"
}
param PROBE_USERS ProbeUsers
param DOMAIN_NAME DomainName
param LOGIN_GROUPS LoginGroups
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
    if command -v sss_cache >/dev/null 2>&1; then sss_cache -u "$u" >/dev/null 2>&1 || true; fi
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
