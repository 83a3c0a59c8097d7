#!/bin/bash
# adjoin join document: joins this Linux instance to Active Directory with the one-time
# password of a computer object that adjoin created beforehand, configures SSSD and starts it.
# Runs as root through SSM Run Command (aws:runShellScript). Idempotent: an instance already
# joined as ComputerName keeps its join ("already joined"), SSSD is (re)configured anyway.
#
# Parameters: each is declared by one `# param:` line below; infra/document-params.ts builds the
# SSM document from them (`# param: Name | description | default or (required) | allowed pattern`).
# SSM refuses a SendCommand whose value does not match the allowed pattern, and the agent hands
# each value over ONLY as the environment variable SSM_<Name> (interpolationType ENV_VAR): no
# value is ever pasted into this script's text. The secure-string reference of OneTimePassword
# is resolved by the agent into $SSM_OneTimePassword: that needs SSM Agent 3.3.3572.0 or later
# (ENV_VAR interpolation arrived in 3.3.2746.0; 3.3.3572.0 fixed it for Parameter Store values).
# With an older agent the variables are missing and the script stops with exit code 2.
# param: DomainName | DNS name of the AD domain, e.g. corp.example.com | (required) | ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$
# param: Realm | Kerberos realm, the domain name in upper case | (required) | ^[A-Z0-9.-]{1,253}$
# param: ComputerName | computer account name (1-15 characters, no dollar sign) created by adjoin | (required) | ^[A-Za-z0-9][A-Za-z0-9-]{0,14}$
# param: HostFqdn | host name registered on the computer object (ComputerName.DomainName) | (required) | ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$
# param: DomainControllers | IPv4 addresses of the domain controllers, comma or space separated | (required) | ^[0-9]{1,3}(\.[0-9]{1,3}){3}([, ]+[0-9]{1,3}(\.[0-9]{1,3}){3}){0,15}$
# param: OneTimePassword | secure-string reference (ssm-secure:NAME in double braces) to the computer's one-time password | (required) | ^\{\{ssm-secure:[A-Za-z0-9_./-]{1,1011}\}\}$
# param: ComputerOu | DN of the OU holding the computer object (reported, never moved) | (required) | ^(?:[Oo][Uu]|[Cc][Nn]|[Dd][Cc])=(?:[^,+"\\<>;=#$'`\x00-\x1f\x7f]|\\[,+"\\<>;=# ]|\\[0-9A-Fa-f]{2})+(?:,(?:[Oo][Uu]|[Cc][Nn]|[Dd][Cc])=(?:[^,+"\\<>;=#$'`\x00-\x1f\x7f]|\\[,+"\\<>;=# ]|\\[0-9A-Fa-f]{2})+)*$
# param: LoginGroups | AD groups allowed to log in, comma separated (empty or - = every domain user) | - | ^[A-Za-z0-9 _.,()-]{0,1024}$
# param: IdMapping | sid (UIDs from SIDs) or rfc2307 (uidNumber/gidNumber from AD) | sid | ^(sid|rfc2307)$
# param: DomainSid | domain SID pinned for sid mapping (S-1-5-21-...); empty or - in rfc2307 mode | - | ^(-|S-1-5-21-[0-9]+-[0-9]+-[0-9]+)?$
# param: DomainController | DC to join through (host name or IP), the one that wrote the computer object: no replication race; empty or - = any DC | - | ^(-|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)?$
# param: DynamicDns | true: SSSD registers the host's A record in AD DNS | false | ^(true|false)$
# param: SudoGroups | AD groups given sudo (ALL) in /etc/sudoers.d/adjoin, comma separated (empty or - = none, the file is removed) | - | ^[A-Za-z0-9 _.,()-]{0,1024}$
# param: SetHostname | true: the OS host name becomes the computer's name (ComputerName, short; HostFqdn in /etc/hosts is not touched) | false | ^(true|false)$
# param: SssdOptions | extra SSSD domain options key=value;key=value from an allow-list (empty or - = none) | - | ^(-|[a-z0-9_]{1,64}=[^;\[\]\x00-\x1f\x7f]{1,256}(;[a-z0-9_]{1,64}=[^;\[\]\x00-\x1f\x7f]{1,256}){0,15})?$
# param: Krb5Rdns | false: rdns = false in krb5.conf [libdefaults] (no reverse DNS to canonicalize KDC/service names) | true | ^(true|false)$
#
# Exit codes: 0 joined (or already joined) and SSSD running; 2 bad parameter; 3 packages;
# 4 DNS / domain not reachable; 5 join refused; 6 SSSD configuration or start;
# 8 host settings (sudoers refused by visudo, host name, krb5.conf).
# The one-time password is never printed, and this script never uses `set -x`.
set -euo pipefail
umask 077
export LC_ALL=C

LB='{'
say() { printf 'adjoin: %s\n' "$*"; }
fail() { # fail CODE MESSAGE
  local code=$1
  shift
  printf 'adjoin: FAILED: %s\n' "$*" >&2
  exit "$code"
}
# Tests run this script against a fake root (test/infra/join-script.test.ts): every path it
# writes or reads on the host starts with $R. On an instance ADJOIN_ROOT is unset: R is empty.
R=${ADJOIN_ROOT:-}

# ---- backups and roll-back --------------------------------------------------------------------
# Every file this script replaces is first copied to <file>.adjoin.bak, once (a later run never
# overwrites it: it keeps the host's own version). Each run also snapshots what it changes into
# a private folder; if the run fails before SSSD is running, the EXIT trap puts every changed
# file back as it was at the start of this run, so a failed join leaves no half-configured host.
RUN_SNAP=$(mktemp -d "${TMPDIR:-/tmp}/adjoin-run.XXXXXX")
CHANGED=()  # files changed by this run
NM_UNDO=()  # nmcli arguments that restore a connection profile
SETTLED=false
backup() { # backup FILE: before FILE is first changed by this run
  local f=$1 i
  for i in "${CHANGED[@]}"; do [ "$i" = "$f" ] && return 0; done
  local key=$RUN_SNAP/${#CHANGED[@]}
  if [ -e "$f" ]; then
    cp -p "$f" "$key"
    [ -e "$f.adjoin.bak" ] || cp -p "$f" "$f.adjoin.bak"
  else
    : >"$key.absent"
  fi
  CHANGED+=("$f")
}
rollback() {
  local i f key
  for i in "${!CHANGED[@]}"; do
    f=${CHANGED[$i]}
    key=$RUN_SNAP/$i
    if [ -e "$key.absent" ]; then rm -f "$f"; elif [ -e "$key" ]; then cat "$key" >"$f"; fi
  done
  if [ "${#NM_UNDO[@]}" -gt 0 ]; then nmcli connection modify "${NM_UNDO[@]}" >/dev/null 2>&1 || true; fi
  if [ "${#CHANGED[@]}" -gt 0 ]; then printf 'adjoin: rolled back %s\n' "${CHANGED[*]#"$R"}" >&2; fi
  if [ -n "${RESTART_RESOLVED:-}" ]; then systemctl restart systemd-resolved >/dev/null 2>&1 || true; fi
  if [ -n "${HOSTNAME_BEFORE:-}" ]; then hostname "$HOSTNAME_BEFORE" >/dev/null 2>&1 || true; fi
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && ! $SETTLED; then rollback; fi
  rm -rf "$RUN_SNAP"
  exit "$rc"
}
trap on_exit EXIT

# param VAR NAME: VAR=$SSM_NAME, as the agent handed it over (never read from this text).
param() {
  local env="SSM_$2"
  [ -n "${!env+x}" ] || fail 2 "parameter $2 is missing: \$$env is not set (this document needs SSM Agent 3.3.3572.0 or later, which hands parameters over as SSM_<Name> environment variables)"
  printf -v "$1" '%s' "${!env}"
}
param DOMAIN_NAME DomainName
param REALM Realm
param COMPUTER_NAME ComputerName
param HOST_FQDN HostFqdn
param DOMAIN_CONTROLLERS DomainControllers
param LOGIN_GROUPS LoginGroups
param ID_MAPPING IdMapping
param DOMAIN_SID DomainSid
param COMPUTER_OU ComputerOu
param DYNAMIC_DNS DynamicDns
param DOMAIN_CONTROLLER DomainController
param SUDO_GROUPS SudoGroups
param SET_HOSTNAME SetHostname
param SSSD_OPTIONS SssdOptions
param KRB5_RDNS Krb5Rdns
[ -n "${SSM_OneTimePassword+x}" ] || fail 2 "parameter OneTimePassword is missing: \$SSM_OneTimePassword is not set (SSM Agent 3.3.3572.0 or later resolves the {{ssm-secure:…}} reference into it; update the agent)"
ONE_TIME_PASSWORD=$SSM_OneTimePassword
unset SSM_OneTimePassword

# ---- parameters -----------------------------------------------------------------------------
check() { # check NAME VALUE REGEX
  [[ "$2" =~ $3 ]] || fail 2 "parameter $1 is not valid: ${2:0:200}"
}
check DomainName "$DOMAIN_NAME" '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
check Realm "$REALM" '^[A-Z0-9.-]{1,253}$'
check ComputerName "$COMPUTER_NAME" '^[A-Za-z0-9][A-Za-z0-9-]{0,14}$'
check HostFqdn "$HOST_FQDN" '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
# shellcheck disable=SC2153 # assigned by `param` (printf -v), which shellcheck cannot follow
check DomainControllers "$DOMAIN_CONTROLLERS" '^[0-9., ]{7,}$'
[ -n "$LOGIN_GROUPS" ] || LOGIN_GROUPS=-
[ -n "$DOMAIN_SID" ] || DOMAIN_SID=-
LOGIN_GROUPS=$(printf '%s' "$LOGIN_GROUPS" | sed -E 's/[[:space:]]*,[[:space:]]*/,/g; s/^[[:space:]]+//; s/[[:space:]]+$//')
check LoginGroups "$LOGIN_GROUPS" '^(-|[A-Za-z0-9 _.()-]{1,64}(,[A-Za-z0-9 _.()-]{1,64})*)$'
check IdMapping "$ID_MAPPING" '^(sid|rfc2307)$'
check DomainSid "$DOMAIN_SID" '^(-|S-1-5-21-[0-9]+-[0-9]+-[0-9]+)$'
# The DN check in POSIX ERE (the allowed pattern above, for bash): read verbatim from a here-doc.
read -r OU_RE <<'RE' || true
^([Oo][Uu]|[Cc][Nn]|[Dd][Cc])=([^,+"\<>;=#$'`[:cntrl:]]|\\[,+"\<>;=# ]|\\[0-9A-Fa-f]{2})+(,([Oo][Uu]|[Cc][Nn]|[Dd][Cc])=([^,+"\<>;=#$'`[:cntrl:]]|\\[,+"\<>;=# ]|\\[0-9A-Fa-f]{2})+)*$
RE
check ComputerOu "$COMPUTER_OU" "$OU_RE"
check DynamicDns "$DYNAMIC_DNS" '^(true|false)$'
[ -n "$DOMAIN_CONTROLLER" ] || DOMAIN_CONTROLLER=-
check DomainController "$DOMAIN_CONTROLLER" '^(-|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$'
# ---- host settings parameters (linux.sudoGroups, setHostname, sssdOptions, krb5Rdns) --------
[ -n "$SUDO_GROUPS" ] || SUDO_GROUPS=-
SUDO_GROUPS=$(printf '%s' "$SUDO_GROUPS" | sed -E 's/[[:space:]]*,[[:space:]]*/,/g; s/^[[:space:]]+//; s/[[:space:]]+$//')
check SudoGroups "$SUDO_GROUPS" '^(-|[A-Za-z0-9 _.()-]{1,64}(,[A-Za-z0-9 _.()-]{1,64})*)$'
check SetHostname "$SET_HOSTNAME" '^(true|false)$'
check Krb5Rdns "$KRB5_RDNS" '^(true|false)$'
[ -n "$SSSD_OPTIONS" ] || SSSD_OPTIONS=-
# The SSSD options a deployment may add to the [domain/…] section (infra/linux-settings.ts
# SSSD_OPTION_KEYS holds the same list): none that decides who the host is or how it joins.
SSSD_OPTION_KEYS=" ad_gpo_access_control ad_gpo_map_remote_interactive ad_gpo_map_interactive ad_gpo_ignore_unreadable override_homedir fallback_homedir default_shell override_shell shell_fallback ldap_user_extra_attrs use_fully_qualified_names full_name_format case_sensitive auto_private_groups ignore_group_members ldap_use_tokengroups ldap_referrals entry_cache_timeout cache_credentials krb5_store_password_if_offline dyndns_refresh_interval dyndns_ttl "
SSSD_KEYS=()
SSSD_VALUES=()
if [ "$SSSD_OPTIONS" != - ]; then
  if [[ "$SSSD_OPTIONS" =~ [[:cntrl:]] ]]; then fail 2 "parameter SssdOptions holds a control character (a newline?): each option is one line of sssd.conf"; fi
  IFS=';' read -r -a sssd_pairs <<<"$SSSD_OPTIONS"
  for pair in "${sssd_pairs[@]}"; do
    [[ "$pair" =~ ^([a-z0-9_]{1,64})=([^][;[:cntrl:]]{1,256})$ ]] || fail 2 "parameter SssdOptions is not valid: ${pair:0:200} (key=value;key=value, no [ ] ; or control characters in a value)"
    key=${BASH_REMATCH[1]}
    value=$(printf '%s' "${BASH_REMATCH[2]}" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
    case "$SSSD_OPTION_KEYS" in *" $key "*) ;; *) fail 2 "parameter SssdOptions: $key is not an allowed SSSD option (allowed:$SSSD_OPTION_KEYS)" ;; esac
    [ -n "$value" ] || fail 2 "parameter SssdOptions: $key has an empty value"
    SSSD_KEYS+=("$key")
    SSSD_VALUES+=("$value")
  done
fi
# The password itself is checked without ever showing it.
case "$ONE_TIME_PASSWORD" in *"$LB$LB"*) fail 2 "parameter OneTimePassword was not resolved: the agent handed over the {{ssm-secure:…}} reference itself (SSM Agent 3.3.3572.0 or later resolves it)" ;; esac
[ "${#ONE_TIME_PASSWORD}" -ge 8 ] || fail 2 "parameter OneTimePassword is too short"
if [ "$ID_MAPPING" = sid ] && [ "$DOMAIN_SID" = - ]; then fail 2 "parameter DomainSid is required when IdMapping is sid"; fi
DOMAIN_LC=$(printf '%s' "$DOMAIN_NAME" | tr '[:upper:]' '[:lower:]')
DCS=()
for ip in ${DOMAIN_CONTROLLERS//,/ }; do
  [[ "$ip" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || fail 2 "parameter DomainControllers: $ip is not an IPv4 address"
  DCS+=("$ip")
done
[ "${#DCS[@]}" -ge 1 ] || fail 2 "parameter DomainControllers is empty"
say "joining $HOST_FQDN as $COMPUTER_NAME to $DOMAIN_LC ($REALM), object in $COMPUTER_OU"

HAS_SYSTEMD=false
if [ -d "$R/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then HAS_SYSTEMD=true; fi

# ---- packages -------------------------------------------------------------------------------
OS_ID=unknown
OS_LIKE=
if [ -r "$R/etc/os-release" ]; then
  # shellcheck source=/dev/null
  OS_ID=$(. "$R/etc/os-release" && printf '%s' "${ID:-unknown}")
  # shellcheck source=/dev/null
  OS_LIKE=$(. "$R/etc/os-release" && printf '%s' "${ID_LIKE:-}")
fi
say "operating system: $OS_ID"
case " $OS_ID $OS_LIKE " in
  *" debian "* | *" ubuntu "*)
    PKGS=(adcli sssd sssd-ad sssd-tools libnss-sss libpam-sss krb5-user)
    missing=()
    for p in "${PKGS[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
      say "installing ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      if ! out=$(apt-get install -y -q "${missing[@]}" 2>&1); then
        out=$( { apt-get update -q && apt-get install -y -q "${missing[@]}"; } 2>&1) || fail 3 "could not install ${missing[*]}: $(tail -c 1500 <<<"$out")"
      fi
    else
      say "packages present"
    fi
    ;;
  *" amzn "* | *" rhel "* | *" centos "* | *" fedora "* | *" rocky "* | *" almalinux "*)
    PKGS=(adcli sssd sssd-ad sssd-tools krb5-workstation oddjob-mkhomedir)
    command -v dnf >/dev/null 2>&1 && PKGS+=(authselect) # dnf systems (AL2023, RHEL 8+) use authselect
    missing=()
    for p in "${PKGS[@]}"; do rpm -q "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ "${#missing[@]}" -gt 0 ]; then
      say "installing ${missing[*]}"
      PM=dnf
      command -v dnf >/dev/null 2>&1 || PM=yum
      out=$("$PM" install -y -q "${missing[@]}" 2>&1) || fail 3 "could not install ${missing[*]}: $(tail -c 1500 <<<"$out")"
    else
      say "packages present"
    fi
    ;;
  *)
    say "unknown OS family: using the tools already installed"
    ;;
esac
for c in adcli sssd; do command -v "$c" >/dev/null 2>&1 || fail 3 "$c is not installed and could not be installed on $OS_ID"; done

# ---- DNS: the domain's names are answered by the domain controllers --------------------------
# Routing that survives a reboot and a DHCP renewal, by what manages the resolver here:
#  1. systemd-resolved running: a drop-in (DNS= + a routing-only domain ~domain);
#  2. else NetworkManager running: the active connection gets the DCs and the search domain
#     (ipv4.dns / ipv4.dns-search; DHCP servers stay, after them) and is re-applied;
#  3. else a dhclient configuration: `prepend domain-name-servers` / `prepend domain-search`,
#     so each renewal writes the DCs first; and /etc/resolv.conf is rewritten now (4.);
#  4. else /etc/resolv.conf is rewritten in place: DCs first, then the servers already there
#     (3 at most), the domain first in the search list.
write_resolv_conf() {
  local f="$R/etc/resolv.conf" old s d dup
  old=$(cat "$f" 2>/dev/null || true)
  local servers=("${DCS[@]}")
  while read -r key val _; do
    if [ "$key" = nameserver ] && [ -n "$val" ]; then
      dup=false
      for s in "${servers[@]}"; do [ "$s" = "$val" ] && dup=true; done
      $dup || servers+=("$val")
    fi
  done <<<"$old"
  local search="$DOMAIN_LC"
  while read -r key rest; do
    if [ "$key" = search ] || [ "$key" = domain ]; then
      for d in $rest; do [ "$d" = "$DOMAIN_LC" ] || search="$search $d"; done
    fi
  done <<<"$old"
  backup "$f"
  # In place (the file may be a bind mount or a symlink target), world-readable like the original.
  {
    printf '# written by adjoin: %s answered by its domain controllers\n' "$DOMAIN_LC"
    printf 'search %s\n' "$search"
    for s in "${servers[@]:0:3}"; do printf 'nameserver %s\n' "$s"; done
    grep -E '^options ' <<<"$old" || true
  } >"$RUN_SNAP/resolv.conf.new"
  cat "$RUN_SNAP/resolv.conf.new" >"$f"
  chmod 644 "$f" 2>/dev/null || true
  say "DNS: /etc/resolv.conf names ${servers[*]:0:3}"
}
nm_running() {
  command -v nmcli >/dev/null 2>&1 && [ "$(nmcli -t -f RUNNING general 2>/dev/null)" = running ]
}
if $HAS_SYSTEMD && systemctl is-active --quiet systemd-resolved 2>/dev/null; then
  # The drop-in folder must be readable by systemd-resolved (it does not run as root): 0755,
  # whatever this script's umask (077) would give it; the file 0644.
  install -d -m 0755 "$R/etc/systemd/resolved.conf.d"
  f="$R/etc/systemd/resolved.conf.d/adjoin.conf"
  backup "$f"
  printf '[Resolve]\nDNS=%s\nDomains=~%s\n' "${DCS[*]}" "$DOMAIN_LC" >"$f"
  chmod 644 "$f"
  RESTART_RESOLVED=1
  systemctl restart systemd-resolved || fail 4 "could not restart systemd-resolved"
  say "DNS: systemd-resolved sends $DOMAIN_LC to ${DCS[*]} (drop-in /etc/systemd/resolved.conf.d/adjoin.conf)"
elif nm_running; then
  dev=$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
  conn=
  [ -n "$dev" ] && conn=$(nmcli -g GENERAL.CONNECTION device show "$dev" 2>/dev/null || true)
  [ -n "$conn" ] || fail 4 "NetworkManager runs, but no active connection carries the default route: cannot route $DOMAIN_LC to its DCs"
  old_dns=$(nmcli -g ipv4.dns connection show "$conn" 2>/dev/null || true)
  old_search=$(nmcli -g ipv4.dns-search connection show "$conn" 2>/dev/null || true)
  state="$R/var/lib/adjoin/networkmanager-$dev.bak"
  if [ ! -e "$state" ]; then
    install -d -m 0755 "$R/var/lib/adjoin"
    printf 'connection=%s\nipv4.dns=%s\nipv4.dns-search=%s\n' "$conn" "$old_dns" "$old_search" >"$state"
  fi
  NM_UNDO=("$conn" ipv4.dns "$old_dns" ipv4.dns-search "$old_search")
  nmcli connection modify "$conn" ipv4.dns "${DCS[*]}" ipv4.dns-search "$DOMAIN_LC" || fail 4 "nmcli could not set the DNS of connection $conn"
  nmcli device reapply "$dev" >/dev/null 2>&1 || nmcli connection up "$conn" >/dev/null 2>&1 || fail 4 "NetworkManager could not re-apply connection $conn"
  say "DNS: NetworkManager connection $conn uses ${DCS[*]} first, search $DOMAIN_LC"
else
  if command -v dhclient >/dev/null 2>&1 || [ -e "$R/etc/dhcp/dhclient.conf" ]; then
    f="$R/etc/dhcp/dhclient.conf"
    install -d -m 0755 "$R/etc/dhcp"
    backup "$f"
    dcs_csv=$(printf '%s, ' "${DCS[@]}")
    {
      grep -v '# adjoin$' "$f" 2>/dev/null || true
      printf 'prepend domain-name-servers %s; # adjoin\n' "${dcs_csv%, }"
      printf 'prepend domain-search "%s"; # adjoin\n' "$DOMAIN_LC"
    } >"$RUN_SNAP/dhclient.conf.new"
    cat "$RUN_SNAP/dhclient.conf.new" >"$f"
    chmod 644 "$f"
    say "DNS: dhclient puts ${DCS[*]} first at every lease (/etc/dhcp/dhclient.conf)"
  fi
  write_resolv_conf
fi
resolved=false
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if getent ahostsv4 "$DOMAIN_LC" >/dev/null 2>&1; then resolved=true; break; fi
  sleep 1
done
$resolved || fail 4 "$DOMAIN_LC does not resolve through ${DCS[*]}: check the DCs' DNS and that this instance may reach them (UDP/TCP 53, 88, 389, 464)"
say "DNS: $DOMAIN_LC resolves"

# ---- host name (linux.setHostname) ----------------------------------------------------------
# The OS host name becomes the computer's name (lower case), so Kerberos, logs and AD agree.
# systemd: hostnamectl (it writes /etc/hostname); else `hostname` and /etc/hostname in place
# (it may be a bind mount). /etc/hostname is backed up; a failed run puts both back.
HOSTNAME_BEFORE=
if [ "$SET_HOSTNAME" = true ]; then
  want=$(printf '%s' "$COMPUTER_NAME" | tr '[:upper:]' '[:lower:]')
  now=$(hostname 2>/dev/null || true)
  if [ "$now" = "$want" ] && [ "$(cat "$R/etc/hostname" 2>/dev/null)" = "$want" ]; then
    say "host name: already $want"
  else
    backup "$R/etc/hostname"
    HOSTNAME_BEFORE=${now:-localhost}
    if $HAS_SYSTEMD && command -v hostnamectl >/dev/null 2>&1; then
      out=$(hostnamectl set-hostname "$want" 2>&1) || fail 8 "hostnamectl could not set the host name $want: $(tail -c 300 <<<"$out")"
    else
      out=$(hostname "$want" 2>&1) || fail 8 "could not set the host name $want: $(tail -c 300 <<<"$out")"
      printf '%s\n' "$want" >"$R/etc/hostname"
    fi
    say "host name: $want (was ${now:-unset}; /etc/hostname backed up)"
  fi
fi

# ---- Kerberos: rdns (linux.krb5Rdns) --------------------------------------------------------
# false: `rdns = false` in [libdefaults], so Kerberos does not canonicalize names by reverse DNS
# (EC2 PTR records name ip-10-…compute.internal, not the AD name). In a drop-in when krb5.conf
# includes /etc/krb5.conf.d, else krb5.conf is edited (backed up). true: our drop-in is removed.
KRB5_DROPIN="$R/etc/krb5.conf.d/adjoin"
if [ "$KRB5_RDNS" = false ]; then
  f="$R/etc/krb5.conf"
  if grep -Eq '^[[:space:]]*includedir[[:space:]]+/etc/krb5\.conf\.d/?[[:space:]]*$' "$f" 2>/dev/null; then
    install -d -m 0755 "$R/etc/krb5.conf.d"
    backup "$KRB5_DROPIN"
    printf '# written by adjoin (linux.krb5Rdns = false)\n[libdefaults]\n    rdns = false\n' >"$KRB5_DROPIN"
    chmod 644 "$KRB5_DROPIN"
    say "Kerberos: rdns = false (drop-in /etc/krb5.conf.d/adjoin)"
  else
    backup "$f"
    awk '
      /^[[:space:]]*\[/ { if (inlib && !done) { print "    rdns = false"; done = 1 } inlib = ($0 ~ /^[[:space:]]*\[libdefaults\]/); print; next }
      inlib && /^[[:space:]]*rdns[[:space:]]*=/ { if (!done) print "    rdns = false"; done = 1; next }
      { print }
      END { if (inlib && !done) { print "    rdns = false"; done = 1 } if (!done) { print "[libdefaults]"; print "    rdns = false" } }
    ' "$f" 2>/dev/null >"$RUN_SNAP/krb5.conf.new" || true
    cat "$RUN_SNAP/krb5.conf.new" >"$f"
    chmod 644 "$f" 2>/dev/null || true
    say "Kerberos: rdns = false in /etc/krb5.conf [libdefaults] (backed up)"
  fi
elif [ -e "$KRB5_DROPIN" ]; then
  backup "$KRB5_DROPIN"
  rm -f "$KRB5_DROPIN"
  say "Kerberos: drop-in /etc/krb5.conf.d/adjoin removed (rdns left to krb5.conf)"
fi

# ---- join -------------------------------------------------------------------------------------
keytab_has_name() {
  command -v klist >/dev/null 2>&1 || return 0
  klist -k 2>/dev/null | grep -qi " ${COMPUTER_NAME}\\\$@${REALM}\$"
}
if adcli testjoin --domain="$DOMAIN_LC" >/dev/null 2>&1 && keytab_has_name; then
  say "already joined to $DOMAIN_LC as $COMPUTER_NAME"
  ALREADY=true
else
  ALREADY=false
  # shellcheck source=/dev/null
  OS_NAME=$(. "$R/etc/os-release" 2>/dev/null && printf '%s' "${NAME:-Linux}") || OS_NAME=Linux
  # shellcheck source=/dev/null
  OS_VERSION=$(. "$R/etc/os-release" 2>/dev/null && printf '%s' "${VERSION_ID:-}") || OS_VERSION=
  say "joining with the one-time password"
  # The object exists already (created by adjoin); adcli logs in as the computer itself.
  # Pinned to the DC that wrote the object: another DC may not have it yet (replication takes
  # seconds, sometimes more): LDAP through --domain-controller, Kerberos through a temporary
  # krb5.conf whose only KDC for the realm is that DC (KRB5_CONFIG, for the adcli calls only).
  PIN=()
  PIN_ENV=()
  PIN_DIR=
  if [ "$DOMAIN_CONTROLLER" != - ]; then
    PIN_DIR=$(mktemp -d /run/adjoin-krb5.XXXXXX 2>/dev/null || mktemp -d)
    {
      printf '[realms]\n    %s = {\n        kdc = %s\n        admin_server = %s\n        kpasswd_server = %s\n    }\n' \
        "$REALM" "$DOMAIN_CONTROLLER" "$DOMAIN_CONTROLLER" "$DOMAIN_CONTROLLER"
      [ -r "$R/etc/krb5.conf" ] && printf 'include %s/etc/krb5.conf\n' "$R"
    } >"$PIN_DIR/krb5.conf"
    PIN=(--domain-controller="$DOMAIN_CONTROLLER")
    PIN_ENV=(KRB5_CONFIG="$PIN_DIR/krb5.conf")
    say "joining through $DOMAIN_CONTROLLER (the DC that holds the computer object)"
  fi
  # The password goes to adcli on standard input (printf is a shell builtin: no process ever has
  # it in its argv, which any local user may read in /proc/<pid>/cmdline).
  # `--login-type=computer --stdin-password` = adcli's --one-time-password, without the argv.
  if ! out=$(printf '%s' "$ONE_TIME_PASSWORD" | env "${PIN_ENV[@]}" adcli join --domain="$DOMAIN_LC" --domain-realm="$REALM" "${PIN[@]}" \
    --computer-name="$COMPUTER_NAME" --host-fqdn="$HOST_FQDN" --os-name="$OS_NAME" --os-version="$OS_VERSION" \
    --login-type=computer --stdin-password 2>&1); then
    out=${out//"$ONE_TIME_PASSWORD"/***}
    [ -n "$PIN_DIR" ] && rm -rf "$PIN_DIR"
    # (tail -c, not ${out: -1500}: that is empty when the output is shorter)
    fail 5 "adcli join refused: $(tail -c 1500 <<<"$out") (a used or wrong one-time password, or a missing computer object: prepare it again)"
  fi
  env "${PIN_ENV[@]}" adcli testjoin --domain="$DOMAIN_LC" "${PIN[@]}" >/dev/null 2>&1 || { [ -n "$PIN_DIR" ] && rm -rf "$PIN_DIR"; fail 5 "joined, but adcli testjoin does not pass"; }
  [ -n "$PIN_DIR" ] && rm -rf "$PIN_DIR"
  say "joined $DOMAIN_LC as $COMPUTER_NAME"
fi
ONE_TIME_PASSWORD=
unset ONE_TIME_PASSWORD

# ---- SSSD ------------------------------------------------------------------------------------
if [ "$LOGIN_GROUPS" = - ]; then
  ACCESS="access_provider = simple"
else
  ACCESS="access_provider = simple
simple_allow_groups = $LOGIN_GROUPS"
fi
if [ "$ID_MAPPING" = sid ]; then
  IDMAP="ldap_id_mapping = True
ldap_idmap_default_domain_sid = $DOMAIN_SID"
else
  # Never pin a domain SID here: in this mode it stops the back end.
  IDMAP="ldap_id_mapping = False"
fi
# Every DC of the domain (DNS SRV records: _srv_); the DC the join went through first when it
# is a host name (it surely has the new account; an IP would break SSSD's Kerberos to LDAP).
AD_SERVER="ad_server = _srv_"
if [ "$DOMAIN_CONTROLLER" != - ] && ! [[ "$DOMAIN_CONTROLLER" =~ ^[0-9.]+$ ]]; then
  AD_SERVER="ad_server = $(printf '%s' "$DOMAIN_CONTROLLER" | tr '[:upper:]' '[:lower:]'), _srv_"
fi
DYNDNS="dyndns_update = False"
[ "$DYNAMIC_DNS" = true ] && DYNDNS="dyndns_update = True
dyndns_refresh_interval = 43200"
install -d -m 0700 "$R/etc/sssd"
backup "$R/etc/sssd/sssd.conf"
cat >"$R/etc/sssd/sssd.conf.adjoin.new" <<EOF
# written by adjoin
[sssd]
config_file_version = 2
services = nss, pam
domains = $DOMAIN_LC

[domain/$DOMAIN_LC]
id_provider = ad
auth_provider = ad
chpass_provider = ad
ad_domain = $DOMAIN_LC
krb5_realm = $REALM
ad_hostname = $HOST_FQDN
$AD_SERVER
$ACCESS
$IDMAP
use_fully_qualified_names = False
fallback_homedir = /home/%u
default_shell = /bin/bash
cache_credentials = True
krb5_store_password_if_offline = True
krb5_ccname_template = FILE:/tmp/krb5cc_%U_XXXXXX
$DYNDNS
EOF
# ---- SSSD options (linux.sssdOptions) --------------------------------------------------------
# Each allowed key=value replaces the line of the same key written above, else is added; the
# domain section is the file's last, so an added line lands in it.
for i in "${!SSSD_KEYS[@]}"; do
  grep -v "^${SSSD_KEYS[$i]} = " "$R/etc/sssd/sssd.conf.adjoin.new" >"$RUN_SNAP/sssd.conf.opt" || true
  printf '%s = %s\n' "${SSSD_KEYS[$i]}" "${SSSD_VALUES[$i]}" >>"$RUN_SNAP/sssd.conf.opt"
  cat "$RUN_SNAP/sssd.conf.opt" >"$R/etc/sssd/sssd.conf.adjoin.new"
done
[ "${#SSSD_KEYS[@]}" -eq 0 ] || say "SSSD: options ${SSSD_KEYS[*]} from linux.sssdOptions"
[ -n "$R" ] || chown root:root "$R/etc/sssd/sssd.conf.adjoin.new"
chmod 600 "$R/etc/sssd/sssd.conf.adjoin.new"
mv -f "$R/etc/sssd/sssd.conf.adjoin.new" "$R/etc/sssd/sssd.conf"
say "SSSD: /etc/sssd/sssd.conf written (id mapping: $ID_MAPPING, login groups: $LOGIN_GROUPS)"

# NSS must ask SSSD (authselect does it on RHEL-like systems; libnss-sss usually on Debian).
if command -v authselect >/dev/null 2>&1; then
  if out=$(authselect select sssd with-mkhomedir --force 2>&1); then
    say "PAM/NSS: authselect profile sssd with-mkhomedir"
  else
    say "warning: authselect failed: $(tail -c 300 <<<"$out")"
  fi
  if $HAS_SYSTEMD; then systemctl enable --now oddjobd >/dev/null 2>&1 || say "warning: oddjobd did not start"; fi
else
  if [ -f "$R/etc/nsswitch.conf" ]; then
    new=$(awk '/^(passwd|group|shadow):/ && $0 !~ /[[:space:]]sss([[:space:]]|$)/ { print $0 " sss"; next } { print }' "$R/etc/nsswitch.conf")
    if [ "$new" != "$(cat "$R/etc/nsswitch.conf")" ]; then
      backup "$R/etc/nsswitch.conf"
      printf '%s\n' "$new" >"$R/etc/nsswitch.conf"
      say "NSS: sss added to /etc/nsswitch.conf"
    fi
  fi
  if command -v pam-auth-update >/dev/null 2>&1 && [ -f "$R/usr/share/pam-configs/mkhomedir" ]; then
    # sss too: its profile is enabled by libpam-sss's install, but an admin may have turned it off.
    profiles=(mkhomedir)
    [ -f "$R/usr/share/pam-configs/sss" ] && profiles=(sss mkhomedir)
    if out=$(pam-auth-update --enable "${profiles[@]}" 2>&1); then
      say "PAM: home directories are created at first login"
    else
      say "warning: pam-auth-update failed: $(tail -c 300 <<<"$out")"
    fi
  elif command -v authconfig >/dev/null 2>&1; then
    # Amazon Linux 2 and other yum systems without authselect: authconfig writes the PAM stacks.
    if out=$(authconfig --enablesssd --enablesssdauth --enablemkhomedir --update 2>&1); then
      say "PAM/NSS: authconfig with SSSD and mkhomedir"
    else
      say "warning: authconfig failed: $(tail -c 300 <<<"$out")"
    fi
    if $HAS_SYSTEMD; then systemctl enable --now oddjobd >/dev/null 2>&1 || say "warning: oddjobd did not start"; fi
  else
    say "warning: no PAM tool found: home directories will not be created automatically"
  fi
fi

# ---- sudo (linux.sudoGroups) ------------------------------------------------------------------
# /etc/sudoers.d/adjoin (0440): `%<group> ALL=(ALL) ALL` for each group, the characters sudoers
# treats specially escaped with a backslash (`%linux\ admins`; sudo 1.9 refuses `%"linux admins"`).
# The file is checked with `visudo -cf` before it is installed: a refused file is never installed.
# No groups: the file is removed. sudo ignores names with a dot in sudoers.d (the .new, the .bak).
SUDOERS="$R/etc/sudoers.d/adjoin"
if [ "$SUDO_GROUPS" = - ]; then
  if [ -e "$SUDOERS" ]; then
    backup "$SUDOERS"
    rm -f "$SUDOERS"
    say "sudo: /etc/sudoers.d/adjoin removed (no sudo groups)"
  fi
else
  command -v visudo >/dev/null 2>&1 || fail 8 "SudoGroups is set ($SUDO_GROUPS) but visudo is missing: install sudo, or leave linux.sudoGroups empty"
  grep -Eq '^[#@]includedir[[:space:]]+/etc/sudoers\.d/?[[:space:]]*$' "$R/etc/sudoers" 2>/dev/null || fail 8 "/etc/sudoers does not include /etc/sudoers.d (@includedir /etc/sudoers.d): the sudo rules for $SUDO_GROUPS would not apply"
  new="$RUN_SNAP/sudoers-adjoin"
  IFS=, read -r -a sudo_groups <<<"$SUDO_GROUPS"
  {
    printf '# written by adjoin: AD groups with sudo (linux.sudoGroups)\n'
    for g in "${sudo_groups[@]}"; do
      printf '%%%s ALL=(ALL) ALL\n' "$(printf '%s' "$g" | sed -E 's/([][ !=:,()\\"#])/\\\1/g')"
    done
  } >"$new"
  chmod 0440 "$new"
  out=$(visudo -cf "$new" 2>&1) || fail 8 "visudo refused the sudo rules for $SUDO_GROUPS, nothing installed: $(tail -c 500 <<<"$out")"
  install -d -m 0750 "$R/etc/sudoers.d"
  backup "$SUDOERS"
  cp "$new" "$SUDOERS.adjoin.new"
  [ -n "$R" ] || chown root:root "$SUDOERS.adjoin.new"
  chmod 0440 "$SUDOERS.adjoin.new"
  mv -f "$SUDOERS.adjoin.new" "$SUDOERS"
  say "sudo: /etc/sudoers.d/adjoin gives ${sudo_groups[*]} sudo (checked by visudo)"
fi

if $HAS_SYSTEMD; then
  systemctl enable sssd >/dev/null 2>&1 || true
  out=$(systemctl restart sssd 2>&1) || fail 6 "sssd did not start: $(tail -c 800 <<<"$out") $(journalctl -u sssd -n 20 --no-pager 2>/dev/null | tail -c 1500)"
else
  # No init system: stop a running sssd by its PID file (bounded), start it as a daemon.
  if [ -s "$R/run/sssd.pid" ] && kill -0 "$(cat "$R/run/sssd.pid")" 2>/dev/null; then
    pid=$(cat "$R/run/sssd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  out=$(sssd -D --logger=files 2>&1) || fail 6 "sssd did not start: $(tail -c 800 <<<"$out") $(tail -c 1500 "$R/var/log/sssd/sssd.log" 2>/dev/null)"
fi
up=false
for _ in $(seq 1 50); do
  if [ -s "$R/run/sssd.pid" ] && kill -0 "$(cat "$R/run/sssd.pid")" 2>/dev/null; then up=true; break; fi
  if $HAS_SYSTEMD && systemctl is-active --quiet sssd; then up=true; break; fi
  sleep 0.2
done
$up || fail 6 "sssd is not running: $(tail -c 1500 "$R/var/log/sssd/sssd.log" 2>/dev/null)"
if command -v sss_cache >/dev/null 2>&1; then sss_cache -E >/dev/null 2>&1 || true; fi
SETTLED=true # SSSD runs with the new configuration: from here on nothing is rolled back
say "SSSD running"

if $ALREADY; then
  say "done: already joined"
else
  say "done: joined"
fi
