#!/bin/bash
# adjoin join document: joins this Linux instance to Active Directory with the one-time
# password of a computer object that adjoin created beforehand, configures SSSD and starts it.
# Runs as root through SSM Run Command (aws:runShellScript). Idempotent: an instance already
# joined as ComputerName keeps its join ("already joined"), SSSD is (re)configured anyway.
#
# Parameters: each is declared by one `# param:` line below; infra/documents.ts builds the SSM
# document from them (`# param: Name | description` = required, `| default | allowed pattern`
# = optional). The agent hands each value over as the environment variable SSM_<Name>
# (interpolationType ENV_VAR); with an older agent, or when a value is a secure-string
# reference the agent resolves only in the script text, the value pasted into the single-quoted
# fallback below is used instead. Values are validated below; the one-time password generator
# never uses a quote, a space, a backslash, a dollar sign or a backtick.
# param: DomainName | DNS name of the AD domain, e.g. corp.example.com
# param: Realm | Kerberos realm, the domain name in upper case
# param: ComputerName | computer account name (1-15 characters, no dollar sign) created by adjoin
# param: HostFqdn | host name registered on the computer object (ComputerName.DomainName)
# param: DomainControllers | IP addresses of the domain controllers, comma or space separated
# param: OneTimePassword | secure-string reference (ssm-secure:NAME in double braces) to the computer's one-time password
# param: ComputerOu | DN of the OU holding the computer object (reported, never moved)
# param: LoginGroups | AD groups allowed to log in, comma separated (empty or - = every domain user) | - | ^[A-Za-z0-9 _.,-]{0,1024}$
# param: IdMapping | sid (UIDs from SIDs) or rfc2307 (uidNumber/gidNumber from AD) | sid | ^(sid|rfc2307)$
# param: DomainSid | domain SID pinned for sid mapping (S-1-5-21-...); empty or - in rfc2307 mode | - | ^(-|S-1-5-21-[0-9]+-[0-9]+-[0-9]+)?$
# param: DomainController | DC to join through (host name or IP), the one that wrote the computer object: no replication race; empty or - = any DC | - | ^(-|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)?$
# param: DynamicDns | true: SSSD registers the host's A record in AD DNS | false | ^(true|false)$
#
# Exit codes: 0 joined (or already joined) and SSSD running; 2 bad parameter; 3 packages;
# 4 DNS / domain not reachable; 5 join refused; 6 SSSD configuration or start.
# The one-time password is never printed, and this script never uses `set -x`.
set -euo pipefail
umask 077
export LC_ALL=C

LB='{'
# param_value NAME FALLBACK: $SSM_NAME when the agent set it to a usable value, else FALLBACK.
param_value() {
  local env="SSM_$1"
  if [ -n "${!env+x}" ] && [[ "${!env}" != *"$LB$LB"* ]]; then printf '%s' "${!env}"; else printf '%s' "$2"; fi
}
DOMAIN_NAME=$(param_value DomainName '{{DomainName}}')
REALM=$(param_value Realm '{{Realm}}')
COMPUTER_NAME=$(param_value ComputerName '{{ComputerName}}')
HOST_FQDN=$(param_value HostFqdn '{{HostFqdn}}')
DOMAIN_CONTROLLERS=$(param_value DomainControllers '{{DomainControllers}}')
ONE_TIME_PASSWORD=$(param_value OneTimePassword '{{OneTimePassword}}')
LOGIN_GROUPS=$(param_value LoginGroups '{{LoginGroups}}')
ID_MAPPING=$(param_value IdMapping '{{IdMapping}}')
DOMAIN_SID=$(param_value DomainSid '{{DomainSid}}')
COMPUTER_OU=$(param_value ComputerOu '{{ComputerOu}}')
DYNAMIC_DNS=$(param_value DynamicDns '{{DynamicDns}}')
DOMAIN_CONTROLLER=$(param_value DomainController '{{DomainController}}')
unset SSM_OneTimePassword 2>/dev/null || true

say() { printf 'adjoin: %s\n' "$*"; }
fail() { # fail CODE MESSAGE
  local code=$1
  shift
  printf 'adjoin: FAILED: %s\n' "$*" >&2
  exit "$code"
}

# ---- parameters -----------------------------------------------------------------------------
check() { # check NAME VALUE REGEX
  case "$2" in *"$LB$LB"*) fail 2 "parameter $1 was not substituted" ;; esac
  [[ "$2" =~ $3 ]] || fail 2 "parameter $1 is not valid: ${2:0:200}"
}
check DomainName "$DOMAIN_NAME" '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
check Realm "$REALM" '^[A-Z0-9.-]{1,253}$'
check ComputerName "$COMPUTER_NAME" '^[A-Za-z0-9][A-Za-z0-9-]{0,14}$'
check HostFqdn "$HOST_FQDN" '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
check DomainControllers "$DOMAIN_CONTROLLERS" '^[0-9., ]{7,}$'
[ -n "$LOGIN_GROUPS" ] || LOGIN_GROUPS=-
[ -n "$DOMAIN_SID" ] || DOMAIN_SID=-
LOGIN_GROUPS=$(printf '%s' "$LOGIN_GROUPS" | sed -E 's/[[:space:]]*,[[:space:]]*/,/g; s/^[[:space:]]+//; s/[[:space:]]+$//')
check LoginGroups "$LOGIN_GROUPS" '^(-|[A-Za-z0-9 _.-]{1,64}(,[A-Za-z0-9 _.-]{1,64})*)$'
check IdMapping "$ID_MAPPING" '^(sid|rfc2307)$'
check DomainSid "$DOMAIN_SID" '^(-|S-1-5-21-[0-9]+-[0-9]+-[0-9]+)$'
check ComputerOu "$COMPUTER_OU" '^(OU|CN)=[^;`$]+$'
check DynamicDns "$DYNAMIC_DNS" '^(true|false)$'
[ -n "$DOMAIN_CONTROLLER" ] || DOMAIN_CONTROLLER=-
check DomainController "$DOMAIN_CONTROLLER" '^(-|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$'
# The password itself is checked without ever showing it.
case "$ONE_TIME_PASSWORD" in *"$LB$LB"*) fail 2 "parameter OneTimePassword was not resolved (expected a secure-string reference)" ;; esac
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
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then HAS_SYSTEMD=true; fi

# ---- packages -------------------------------------------------------------------------------
OS_ID=unknown
OS_LIKE=
if [ -r /etc/os-release ]; then
  OS_ID=$(. /etc/os-release && printf '%s' "${ID:-unknown}")
  OS_LIKE=$(. /etc/os-release && printf '%s' "${ID_LIKE:-}")
fi
say "operating system: $OS_ID"
case " $OS_ID $OS_LIKE " in
  *" debian "* | *" ubuntu "*)
    FAMILY=debian
    PKGS=(adcli sssd sssd-ad sssd-tools libnss-sss libpam-sss krb5-user)
    missing=()
    for p in "${PKGS[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
      say "installing ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      if ! out=$(apt-get install -y -q "${missing[@]}" 2>&1); then
        out=$( { apt-get update -q && apt-get install -y -q "${missing[@]}"; } 2>&1) || fail 3 "could not install ${missing[*]}: ${out: -1500}"
      fi
    else
      say "packages present"
    fi
    ;;
  *" amzn "* | *" rhel "* | *" centos "* | *" fedora "* | *" rocky "* | *" almalinux "*)
    FAMILY=rhel
    PKGS=(adcli sssd sssd-ad sssd-tools krb5-workstation oddjob-mkhomedir)
    command -v dnf >/dev/null 2>&1 && PKGS+=(authselect) # dnf systems (AL2023, RHEL 8+) use authselect
    missing=()
    for p in "${PKGS[@]}"; do rpm -q "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ "${#missing[@]}" -gt 0 ]; then
      say "installing ${missing[*]}"
      PM=dnf
      command -v dnf >/dev/null 2>&1 || PM=yum
      out=$("$PM" install -y -q "${missing[@]}" 2>&1) || fail 3 "could not install ${missing[*]}: ${out: -1500}"
    else
      say "packages present"
    fi
    ;;
  *)
    FAMILY=other
    say "unknown OS family: using the tools already installed"
    ;;
esac
for c in adcli sssd; do command -v "$c" >/dev/null 2>&1 || fail 3 "$c is not installed and could not be installed on $OS_ID"; done

# ---- DNS: the domain's names are answered by the domain controllers --------------------------
if $HAS_SYSTEMD && systemctl is-active --quiet systemd-resolved 2>/dev/null; then
  mkdir -p /etc/systemd/resolved.conf.d
  printf '[Resolve]\nDNS=%s\nDomains=~%s\n' "${DCS[*]}" "$DOMAIN_LC" >/etc/systemd/resolved.conf.d/adjoin.conf
  chmod 644 /etc/systemd/resolved.conf.d/adjoin.conf
  systemctl restart systemd-resolved || fail 4 "could not restart systemd-resolved"
  say "DNS: systemd-resolved sends $DOMAIN_LC to ${DCS[*]}"
else
  # Rewrite in place (the file may be a bind mount or a symlink target): DCs first, then the
  # name servers already there, at most 3 in all; the domain first in the search list.
  # (Where a DHCP client rewrites this file, prefer DHCP options or a Route 53 Resolver rule
  # that sends the domain to the DCs; the join stays valid, only new lookups need it.)
  old=$(cat /etc/resolv.conf 2>/dev/null || true)
  servers=("${DCS[@]}")
  while read -r key val _; do
    if [ "$key" = nameserver ] && [ -n "$val" ]; then
      dup=false
      for s in "${servers[@]}"; do [ "$s" = "$val" ] && dup=true; done
      $dup || servers+=("$val")
    fi
  done <<<"$old"
  search="$DOMAIN_LC"
  while read -r key rest; do
    if [ "$key" = search ] || [ "$key" = domain ]; then
      for d in $rest; do [ "$d" = "$DOMAIN_LC" ] || search="$search $d"; done
    fi
  done <<<"$old"
  {
    printf '# written by adjoin: %s answered by its domain controllers\n' "$DOMAIN_LC"
    printf 'search %s\n' "$search"
    for s in "${servers[@]:0:3}"; do printf 'nameserver %s\n' "$s"; done
    grep -E '^options ' <<<"$old" || true
  } >/etc/resolv.conf.adjoin.new
  cat /etc/resolv.conf.adjoin.new >/etc/resolv.conf
  rm -f /etc/resolv.conf.adjoin.new
  chmod 644 /etc/resolv.conf 2>/dev/null || true
  say "DNS: /etc/resolv.conf names ${servers[*]:0:3}"
fi
resolved=false
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if getent ahostsv4 "$DOMAIN_LC" >/dev/null 2>&1; then resolved=true; break; fi
  sleep 1
done
$resolved || fail 4 "$DOMAIN_LC does not resolve through ${DCS[*]}: check the DCs' DNS and that this instance may reach them (UDP/TCP 53, 88, 389, 464)"
say "DNS: $DOMAIN_LC resolves"

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
  OS_NAME=$(. /etc/os-release 2>/dev/null && printf '%s' "${NAME:-Linux}") || OS_NAME=Linux
  OS_VERSION=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_ID:-}") || OS_VERSION=
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
      [ -r /etc/krb5.conf ] && printf 'include /etc/krb5.conf\n'
    } >"$PIN_DIR/krb5.conf"
    PIN=(--domain-controller="$DOMAIN_CONTROLLER")
    PIN_ENV=(KRB5_CONFIG="$PIN_DIR/krb5.conf")
    say "joining through $DOMAIN_CONTROLLER (the DC that holds the computer object)"
  fi
  if ! out=$(env "${PIN_ENV[@]}" adcli join --domain="$DOMAIN_LC" --domain-realm="$REALM" "${PIN[@]}" --computer-name="$COMPUTER_NAME" \
    --host-fqdn="$HOST_FQDN" --os-name="$OS_NAME" --os-version="$OS_VERSION" \
    --one-time-password="$ONE_TIME_PASSWORD" 2>&1); then
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
mkdir -p /etc/sssd
chmod 700 /etc/sssd
cat >/etc/sssd/sssd.conf.adjoin.new <<EOF
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
chown root:root /etc/sssd/sssd.conf.adjoin.new
chmod 600 /etc/sssd/sssd.conf.adjoin.new
mv -f /etc/sssd/sssd.conf.adjoin.new /etc/sssd/sssd.conf
say "SSSD: /etc/sssd/sssd.conf written (id mapping: $ID_MAPPING, login groups: $LOGIN_GROUPS)"

# NSS must ask SSSD (authselect does it on RHEL-like systems; libnss-sss usually on Debian).
if command -v authselect >/dev/null 2>&1; then
  if out=$(authselect select sssd with-mkhomedir --force 2>&1); then
    say "PAM/NSS: authselect profile sssd with-mkhomedir"
  else
    say "warning: authselect failed: ${out: -300}"
  fi
  if $HAS_SYSTEMD; then systemctl enable --now oddjobd >/dev/null 2>&1 || say "warning: oddjobd did not start"; fi
else
  if [ -f /etc/nsswitch.conf ]; then
    new=$(awk '/^(passwd|group|shadow):/ && $0 !~ /[[:space:]]sss([[:space:]]|$)/ { print $0 " sss"; next } { print }' /etc/nsswitch.conf)
    if [ "$new" != "$(cat /etc/nsswitch.conf)" ]; then
      printf '%s\n' "$new" >/etc/nsswitch.conf
      say "NSS: sss added to /etc/nsswitch.conf"
    fi
  fi
  if command -v pam-auth-update >/dev/null 2>&1 && [ -f /usr/share/pam-configs/mkhomedir ]; then
    if out=$(pam-auth-update --enable mkhomedir 2>&1); then
      say "PAM: home directories are created at first login"
    else
      say "warning: pam-auth-update failed: ${out: -300}"
    fi
  else
    say "warning: no PAM tool found: home directories will not be created automatically"
  fi
fi

if $HAS_SYSTEMD; then
  systemctl enable sssd >/dev/null 2>&1 || true
  out=$(systemctl restart sssd 2>&1) || fail 6 "sssd did not start: ${out: -800} $(journalctl -u sssd -n 20 --no-pager 2>/dev/null | tail -c 1500)"
else
  # No init system: stop a running sssd by its PID file (bounded), start it as a daemon.
  if [ -s /run/sssd.pid ] && kill -0 "$(cat /run/sssd.pid)" 2>/dev/null; then
    pid=$(cat /run/sssd.pid)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  out=$(sssd -D --logger=files 2>&1) || fail 6 "sssd did not start: ${out: -800} $(tail -c 1500 /var/log/sssd/sssd.log 2>/dev/null)"
fi
up=false
for _ in $(seq 1 50); do
  if [ -s /run/sssd.pid ] && kill -0 "$(cat /run/sssd.pid)" 2>/dev/null; then up=true; break; fi
  if $HAS_SYSTEMD && systemctl is-active --quiet sssd; then up=true; break; fi
  sleep 0.2
done
$up || fail 6 "sssd is not running: $(tail -c 1500 /var/log/sssd/sssd.log 2>/dev/null)"
command -v sss_cache >/dev/null 2>&1 && sss_cache -E >/dev/null 2>&1 || true
say "SSSD running"

if $ALREADY; then
  say "done: already joined"
else
  say "done: joined"
fi
