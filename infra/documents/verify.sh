#!/bin/bash
# adjoin verify document: proves the join by resolving directory users through NSS (SSSD), the
# way SSM Session Manager "Run As" and sshd do (getpwnam): `getent passwd` and `id` for each
# probe user. SSSD may need a moment after it starts: bounded retries (about 20 s in all).
# Parameters: see join.sh for how they arrive (only as SSM_<Name> environment variables, SSM
# Agent 3.3.3572.0 or later; every value matched its allowed pattern before it was sent).
# param: ProbeUsers | directory users that must resolve, comma or space separated | (required) | ^[A-Za-z0-9 ,._@-]{1,1024}$
# param: DomainName | DNS name of the AD domain (shown in messages) | - | ^[-A-Za-z0-9.]{0,253}$
# param: LoginGroups | login groups of this instance (each must resolve) | - | ^[A-Za-z0-9 _.,()-]{0,1024}$
#
# Exit codes: 0 every check passes; 7 verification failed: a user does not resolve (outputs
# shown) or a login-path check failed (the message names it: login group, PAM stack, adcli
# testjoin); 2 bad parameter.
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

# ---- login path (issue 12): what a login needs, checked without a password --------------------
# Each login group resolves; the probe users' membership is reported; PAM asks SSSD (pam_sss in
# the auth and account stacks, or authselect's sssd profile); the machine account works
# (adcli testjoin). Every failed check is named; any failure ends with exit code 7.
R=${ADJOIN_ROOT:-} # tests: a fake root for the PAM files (test/infra/verify-script.test.ts)
problems=()
GROUPS_OK=()
if [ -n "$LOGIN_GROUPS" ] && [ "$LOGIN_GROUPS" != - ]; then
  IFS=, read -r -a login_groups <<<"$LOGIN_GROUPS"
  for g in "${login_groups[@]}"; do
    g=$(printf '%s' "$g" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
    [ -n "$g" ] || continue
    if ent=$(getent group "$g" 2>&1); then
      printf 'adjoin: login group %s resolves: %s\n' "$g" "${ent:0:300}"
      GROUPS_OK+=("$g")
    else
      problems+=("login group \"$g\" does not resolve through NSS (getent group): check its name in AD and that SSSD sees it")
    fi
  done
  for u in "${USERS[@]}"; do
    mine=$(id -Gn "$u" 2>/dev/null | tr ' ' '\n' || true)
    member=
    for g in "${GROUPS_OK[@]}"; do
      if grep -qixF -- "$g" <<<"$mine"; then member=$g; break; fi
    done
    if [ -n "$member" ]; then printf 'adjoin: %s may log in (member of %s)\n' "$u" "$member"
    else printf 'adjoin: %s is in none of the login groups: SSSD refuses its logins (expected if it is no login user)\n' "$u"; fi
  done
fi

pam_has_sss() { # pam_has_sss FILE...: every FILE exists and names pam_sss.so outside comments
  local f
  for f in "$@"; do grep -Eq '^[^#]*pam_sss\.so' "$R$f" 2>/dev/null || return 1; done
}
if command -v authselect >/dev/null 2>&1 && authselect current 2>/dev/null | grep -qi 'profile id: sssd'; then
  printf 'adjoin: PAM: authselect profile sssd\n'
elif [ -e "$R/etc/pam.d/common-auth" ] || [ -e "$R/etc/pam.d/common-account" ]; then
  if pam_has_sss /etc/pam.d/common-auth /etc/pam.d/common-account; then printf 'adjoin: PAM: pam_sss in common-auth and common-account\n'
  else problems+=("PAM stack: pam_sss.so is missing from /etc/pam.d/common-auth or common-account (pam-auth-update --enable sss)"); fi
elif [ -e "$R/etc/pam.d/system-auth" ] || [ -e "$R/etc/pam.d/password-auth" ]; then
  if pam_has_sss /etc/pam.d/system-auth /etc/pam.d/password-auth; then printf 'adjoin: PAM: pam_sss in system-auth and password-auth\n'
  else problems+=("PAM stack: pam_sss.so is missing from /etc/pam.d/system-auth or password-auth (authselect select sssd)"); fi
else
  problems+=("PAM stack: neither /etc/pam.d/common-auth (Debian/Ubuntu) nor system-auth (RHEL-like) exists, and authselect has no sssd profile: logins cannot reach SSSD")
fi

# The domain: the parameter, else the one join.sh wrote into sssd.conf (adcli's own guess comes
# from the host name, which on EC2 is ip-….compute.internal).
domain_arg=()
test_domain=$DOMAIN_NAME
if [ -z "$test_domain" ] || [ "$test_domain" = - ]; then
  test_domain=$(sed -n 's/^ad_domain = \([-A-Za-z0-9.]*\)$/\1/p' "$R/etc/sssd/sssd.conf" 2>/dev/null | head -n 1)
fi
if [ -n "$test_domain" ] && [ "$test_domain" != - ]; then domain_arg=(--domain="$test_domain"); fi
if ! command -v adcli >/dev/null 2>&1; then
  problems+=("adcli testjoin: adcli is not installed")
elif out=$(adcli testjoin "${domain_arg[@]}" 2>&1); then
  printf 'adjoin: adcli testjoin passes\n'
else
  problems+=("adcli testjoin fails: $(tail -c 300 <<<"$out") (the machine account or keytab is not valid: join again)")
fi

if [ "${#problems[@]}" -gt 0 ]; then
  for p in "${problems[@]}"; do printf 'adjoin: verification failed: %s\n' "$p" >&2; done
  joined=$(printf '%s; ' "${problems[@]}")
  CODE=7 fail "verification failed: ${joined%; }"
fi
printf 'adjoin: verified: login groups, PAM stack and the machine account\n'
