# adjoin Windows join document: joins this Windows instance to Active Directory with the
# one-time password of a computer object that adjoin created beforehand (the same object as for
# Linux: marker, one-time password, SPNs), grants the login groups Remote Desktop access, then
# verifies the join. Runs as SYSTEM through SSM Run Command (aws:runPowerShellScript), one
# command per join:
#   run 1: parameters, DNS, rename + unsecured join with the password alone
#          (Add-Computer -Options UnsecuredJoin,PasswordPass,JoinWithNewName), exit 3010;
#          the SSM Agent reboots the instance and runs this script again;
#   run 2: "joined" is found, the machine password is changed (the one-time password is dead
#          from then on), login groups are added to the local groups, verification.
# Idempotent: an instance already joined as ComputerName is never joined a second time, unless
# its secure channel fails after a later Prepare (a redrive after run 2 failed: the clean-up
# reset the object's password): then it leaves the domain locally, restarts (exit 3010) and
# joins again with the new one-time password (see "already joined" below).
# No privileged credential is ever on the instance: the computer object's own password is all.
#
# Parameters: each is declared by one `# param:` line below; infra/documents.ts builds the SSM
# document from them (`Name | description | default | ^allowed pattern$`; a default of
# (required) means the parameter has no default). The agent hands each value over as the
# environment variable SSM_<Name> (interpolationType ENV_VAR); no value is ever pasted into
# this script's text. The one-time password arrives as a secure-string reference
# (ssm-secure:NAME in double braces) that the agent resolves on the instance.
# param: DomainName | DNS name of the AD domain, e.g. corp.example.com | (required) | ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$
# param: NetbiosName | NetBIOS name of the AD domain, e.g. CORP | (required) | ^[A-Za-z0-9][A-Za-z0-9-]{0,14}$
# param: ComputerName | computer account name (1-15 characters, no dollar sign) created by adjoin | (required) | ^[A-Za-z0-9][A-Za-z0-9-]{0,14}$
# param: HostFqdn | host name registered on the computer object (ComputerName.DomainName) | (required) | ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$
# param: DomainControllers | IP addresses of the domain controllers, comma or space separated | (required) | ^[0-9]{1,3}(\.[0-9]{1,3}){3}([ ,]+[0-9]{1,3}(\.[0-9]{1,3}){3}){0,15}$
# param: OneTimePassword | secure-string reference (ssm-secure:NAME in double braces) to the computer's one-time password | (required) | ^\{\{ssm-secure:[A-Za-z0-9_./-]{1,1011}\}\}$
# param: ComputerOu | DN of the OU holding the computer object (reported, never moved) | (required) | ^(OU|CN)=[^;`$]{1,1024}$
# param: LoginGroups | AD groups allowed to log in over RDP, comma separated (empty or - = none added) | - | ^[A-Za-z0-9 _.,()-]{0,1024}$
# param: RemoteDesktopGroup | local group the login groups join | Remote Desktop Users | ^[A-Za-z0-9 _.-]{1,64}$
# param: AdminGroups | AD groups made local administrators, comma separated (empty or - = none) | - | ^[A-Za-z0-9 _.,-]{0,1024}$
# param: AdministratorsGroup | local administrators group | Administrators | ^[A-Za-z0-9 _.-]{1,64}$
# param: ProbeUsers | directory users that must resolve to a SID, comma separated (verification) | (required) | ^[A-Za-z0-9 ,._-]{1,1024}$
#
# Exit codes (same catalogue as join.sh; 3 "packages" is not used on Windows):
#   0 joined (or already joined), access set and verified; 2 bad parameter;
#   4 DNS / domain not reachable; 5 join refused (or joined elsewhere, or the one-time password
#   could not be retired, or the domain could not be left locally to join again); 6 local group
#   configuration; 7 verification failed;
#   3010 joined, reboot requested (SSM reboots and runs this script again: not a failure).
# The one-time password is never printed, never in an error, and this script starts no
# transcript and no tracing.
Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-PSDebug -Off

$StateKey = 'HKLM:\SOFTWARE\adjoin'
$script:Otp = ''

function Say([string]$Message) { Write-Output "adjoin: $Message" }

# Fail CODE MESSAGE: one line on stderr (with the one-time password masked), then exit.
function Fail([int]$Code, [string]$Message) {
  if ($script:Otp.Length -gt 0) { $Message = $Message.Replace($script:Otp, '***') }
  [Console]::Error.WriteLine("adjoin: FAILED: $Message")
  exit $Code
}

# The text of an error record, never longer than 1500 characters.
function ErrorText($Record) {
  $text = "$($Record.Exception.Message)"
  if ($text.Length -gt 1500) { $text = $text.Substring($text.Length - 1500) }
  return $text
}

# ---- parameters -------------------------------------------------------------------------------
function ReadParam([string]$Name, [string]$Pattern, $Default = $null) {
  $value = [Environment]::GetEnvironmentVariable("SSM_$Name")
  if ($null -eq $value -or $value -eq '') {
    if ($null -ne $Default) { return $Default }
    Fail 2 "parameter $Name is missing (expected in the environment variable SSM_$Name)"
  }
  if ($value.Contains('{{')) { Fail 2 "parameter $Name was not substituted" }
  if ($value -cnotmatch $Pattern) {
    $shown = $value
    if ($shown.Length -gt 200) { $shown = $shown.Substring(0, 200) }
    Fail 2 "parameter $Name is not valid: $shown"
  }
  return $value
}

# A comma separated list of names: trimmed, empty items dropped; '-' alone = none.
function NameList([string]$Value) {
  if ($Value.Trim() -eq '-') { return @() }
  return @($Value.Split(',') | ForEach-Object { $_.Trim() } | Where-Object { $_ -ne '' })
}

$Fqdn = '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
$DomainName = (ReadParam 'DomainName' $Fqdn).ToLowerInvariant()
$NetbiosName = ReadParam 'NetbiosName' '^[A-Za-z0-9][A-Za-z0-9-]{0,14}$'
$ComputerName = ReadParam 'ComputerName' '^[A-Za-z0-9][A-Za-z0-9-]{0,14}$'
$HostFqdn = ReadParam 'HostFqdn' $Fqdn
$DomainControllers = ReadParam 'DomainControllers' '^[0-9., ]{7,}$'
$ComputerOu = ReadParam 'ComputerOu' '^(OU|CN)=[^;`$]+$'
$LoginGroups = NameList (ReadParam 'LoginGroups' '^[A-Za-z0-9 _.,()-]{0,1024}$' '-')
$RemoteDesktopGroup = ReadParam 'RemoteDesktopGroup' '^[A-Za-z0-9 _.-]{1,64}$' 'Remote Desktop Users'
$AdminGroups = NameList (ReadParam 'AdminGroups' '^[A-Za-z0-9 _.,-]{0,1024}$' '-')
$AdministratorsGroup = ReadParam 'AdministratorsGroup' '^[A-Za-z0-9 _.-]{1,64}$' 'Administrators'
$ProbeUsers = NameList (ReadParam 'ProbeUsers' '^[A-Za-z0-9 ,._-]{1,1024}$')
foreach ($g in @($LoginGroups + $AdminGroups)) {
  if ($g -notmatch '^[A-Za-z0-9 _.()-]{1,64}$') { Fail 2 "group name '$g' is not valid" }
}
if ($ProbeUsers.Count -lt 1) { Fail 2 'parameter ProbeUsers names no user' }
$Dcs = @($DomainControllers.Split(', '.ToCharArray()) | Where-Object { $_ -ne '' })
foreach ($ip in $Dcs) {
  $parsed = $null
  if ($ip -notmatch '^([0-9]{1,3}\.){3}[0-9]{1,3}$' -or -not [System.Net.IPAddress]::TryParse($ip, [ref]$parsed)) {
    Fail 2 "parameter DomainControllers: $ip is not an IPv4 address"
  }
}
if ($Dcs.Count -lt 1) { Fail 2 'parameter DomainControllers is empty' }
if (-not $HostFqdn.ToLowerInvariant().StartsWith("$($ComputerName.ToLowerInvariant()).")) {
  Fail 2 "parameter HostFqdn ($HostFqdn) does not start with ComputerName ($ComputerName)"
}
# The password itself is checked without ever showing it, then removed from the environment.
$script:Otp = [Environment]::GetEnvironmentVariable('SSM_OneTimePassword')
[Environment]::SetEnvironmentVariable('SSM_OneTimePassword', $null)
if ($null -eq $script:Otp) { $script:Otp = '' }
$OtpUnresolved = $script:Otp.Contains('{{')
if ($OtpUnresolved) { $script:Otp = '' }

# ---- state: what this script did before a reboot ----------------------------------------------
function State([string]$Name) {
  $item = Get-ItemProperty -Path $StateKey -Name $Name -ErrorAction SilentlyContinue
  if ($null -eq $item) { return '' }
  return [string]$item.$Name
}
function SetState([string]$Name, [string]$Value) {
  if (-not (Test-Path $StateKey)) { New-Item -Path $StateKey -Force | Out-Null }
  Set-ItemProperty -Path $StateKey -Name $Name -Value $Value
}

# Does the secure channel to the domain work (a few tries: a DC may be busy)?
function SecureChannelWorks([int]$Tries) {
  for ($i = 0; $i -lt $Tries; $i++) {
    $works = $false
    try { $works = Test-ComputerSecureChannel } catch { $works = $false }
    if ($works) { return $true }
    Start-Sleep -Seconds 2
  }
  return $false
}

$Cs = Get-CimInstance -ClassName Win32_ComputerSystem
$ActiveName = (Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ActiveComputerName').ComputerName
$PendingName = (Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName').ComputerName
$InDomain = $Cs.PartOfDomain -and ("$($Cs.Domain)".ToLowerInvariant() -eq $DomainName)
if ($Cs.PartOfDomain -and -not $InDomain) {
  Fail 5 "this instance is already joined to $($Cs.Domain), not ${DomainName}: leave that domain first"
}
Say "joining $HostFqdn as $ComputerName to $DomainName ($NetbiosName), object in $ComputerOu"

if ($InDomain -and $ActiveName -ieq $ComputerName) {
  $Already = (State 'JoinedBy') -ne 'this-command'
  Say "already joined to $DomainName as $ComputerName"
  # Joined, its password changed since (so this is a later command, e.g. a redrive after run 2
  # failed), and the secure channel fails: the directory no longer accepts this machine's
  # password (the clean-up reset it; Prepare set the one-time password this command carries).
  # Leave the domain locally only (Win32_ComputerSystem.UnjoinDomainOrWorkgroup, FUnjoinOptions
  # 0: the computer object is not touched), restart, and the next run joins again with the
  # one-time password like a first run (PasswordPass: the machine password becomes it).
  # Bounded: PasswordRetired is cleared here, so the runs of the new join never come back here.
  $otpUsable = -not $OtpUnresolved -and $script:Otp.Length -ge 8
  if ((State 'PasswordRetired') -ieq $ComputerName -and $otpUsable -and -not (SecureChannelWorks 3)) {
    Say "secure channel to $DomainName fails: the directory no longer accepts this machine's password (the object was prepared again)"
    $left = $null
    try {
      $left = Invoke-CimMethod -InputObject $Cs -MethodName 'UnjoinDomainOrWorkgroup' -Arguments @{ FUnjoinOptions = [uint32]0 }
    } catch {
      Fail 5 "could not leave $DomainName locally to join again: $(ErrorText $_)"
    }
    if ($null -eq $left -or $left.ReturnValue -ne 0) {
      $code = 'no answer'
      if ($null -ne $left) { $code = [string]$left.ReturnValue }
      Fail 5 "could not leave $DomainName locally to join again (UnjoinDomainOrWorkgroup returned $code)"
    }
    SetState 'JoinedBy' ''
    SetState 'PasswordRetired' ''
    SetState 'Reboots' '0'
    Say "left $DomainName locally (the computer object is untouched): restarting (exit 3010) to join again with the new one-time password"
    exit 3010
  }
} elseif ($InDomain -and $PendingName -ieq $ComputerName) {
  # Joined, the reboot has not happened yet (or was lost): ask for it again, at most twice.
  $count = 0
  [void][int]::TryParse((State 'Reboots'), [ref]$count)
  if ($count -ge 2) { Fail 5 "joined as $ComputerName but the instance still runs as $ActiveName after $count reboots" }
  SetState 'Reboots' ([string]($count + 1))
  Say "joined $DomainName as ${ComputerName}: restarting (reboot requested again)"
  exit 3010
} elseif ($InDomain) {
  Fail 5 "this instance is joined to $DomainName as $ActiveName, not ${ComputerName}: leave the domain first"
} else {
  $Already = $false
  # Checked only here: an instance already joined needs no password.
  if ($OtpUnresolved) { Fail 2 'parameter OneTimePassword was not resolved (expected a secure-string reference the SSM Agent resolves)' }
  if ($script:Otp.Length -lt 8) { Fail 2 'parameter OneTimePassword is too short' }

  # ---- DNS: the domain's names are answered by the domain controllers ------------------------
  # Static DNS servers on every adapter with a default route (where DHCP options or a Route 53
  # Resolver rule already send the domain to the DCs, this changes nothing that matters).
  $adapters = @(Get-NetIPConfiguration | Where-Object { $null -ne $_.IPv4DefaultGateway -and $_.NetAdapter.Status -eq 'Up' })
  if ($adapters.Count -lt 1) { Fail 4 'no network adapter with a default route is up' }
  foreach ($a in $adapters) {
    try {
      Set-DnsClientServerAddress -InterfaceIndex $a.InterfaceIndex -ServerAddresses $Dcs
    } catch {
      Fail 4 "could not set the DNS servers of $($a.InterfaceAlias) to $($Dcs -join ', '): $(ErrorText $_)"
    }
  }
  Clear-DnsClientCache
  Say "DNS: $($adapters.InterfaceAlias -join ', ') ask $($Dcs -join ', ')"
  $resolved = $false
  $cause = ''
  for ($i = 0; $i -lt 10 -and -not $resolved; $i++) {
    try {
      Resolve-DnsName -Name "_ldap._tcp.dc._msdcs.$DomainName" -Type SRV -DnsOnly | Out-Null
      Resolve-DnsName -Name $DomainName -Type A -DnsOnly | Out-Null
      $resolved = $true
    } catch {
      $cause = ErrorText $_
      Start-Sleep -Seconds 1
    }
  }
  if (-not $resolved) {
    Fail 4 "$DomainName (or its domain controller SRV record) does not resolve through $($Dcs -join ', '): $cause (check the DCs' DNS and that this instance may reach them: UDP/TCP 53, 88, 135, 389, 445, 464, 49152-65535)"
  }
  Say "DNS: $DomainName resolves"

  # ---- join: rename when needed, then the unsecured join with the password alone -------------
  if ($env:COMPUTERNAME -ine $ComputerName -and $PendingName -ine $ComputerName) {
    try {
      Rename-Computer -NewName $ComputerName -Force -WarningAction SilentlyContinue
    } catch {
      Fail 5 "could not rename $($env:COMPUTERNAME) to ${ComputerName}: $(ErrorText $_)"
    }
    Say "renamed $($env:COMPUTERNAME) to $ComputerName (effective at the reboot)"
  }
  Say 'joining with the one-time password'
  $secure = ConvertTo-SecureString -String $script:Otp -AsPlainText -Force
  # The PSObject constructor accepts a credential without a user name: the computer itself.
  $credential = [System.Management.Automation.PSCredential]::new([pscustomobject]@{ UserName = $null; Password = $secure })
  $joined = $false
  $cause = ''
  # The object may not have reached every DC yet: bounded retries (about a minute).
  # UnsecuredJoin + PasswordPass: log in as the pre-created account with its password;
  # JoinWithNewName: join under the pending new name (the rename above).
  $joinOptions = @('UnsecuredJoin', 'PasswordPass', 'JoinWithNewName')
  for ($i = 0; $i -lt 20 -and -not $joined; $i++) {
    try {
      Add-Computer -ComputerName localhost -DomainName $DomainName -Credential $credential -Options $joinOptions -Force -WarningAction SilentlyContinue
      $joined = $true
    } catch {
      $cause = ErrorText $_
      Start-Sleep -Seconds 3
    }
  }
  $secure.Dispose()
  $credential = $null
  if (-not $joined) {
    Fail 5 "Add-Computer refused the join: $cause (a used or wrong one-time password, or a missing computer object: prepare it again)"
  }
  SetState 'JoinedBy' 'this-command'
  SetState 'Reboots' '1'
  SetState 'PasswordRetired' ''
  Say "joined $DomainName as ${ComputerName}: restarting (exit 3010: SSM reboots and runs this document again)"
  exit 3010
}
$script:Otp = ''

# ---- retire the one-time password: the machine sets a password nobody else knows ---------------
if ((State 'PasswordRetired') -ine $ComputerName) {
  $retired = $false
  $cause = ''
  for ($i = 0; $i -lt 10 -and -not $retired; $i++) {
    try {
      Reset-ComputerMachinePassword
      $retired = $true
    } catch {
      $cause = ErrorText $_
      Start-Sleep -Seconds 3
    }
  }
  if (-not $retired) { Fail 5 "joined, but the machine password could not be changed (the one-time password still works): $cause" }
  SetState 'PasswordRetired' $ComputerName
  Say 'machine password changed: the one-time password no longer works'
}

# ---- access: login groups in the local groups (idempotent) ------------------------------------
function AddToLocalGroup([string]$Group, [string[]]$Members) {
  foreach ($m in $Members) {
    $account = "$NetbiosName\$m"
    try {
      Add-LocalGroupMember -Group $Group -Member $account
      Say "access: $account added to $Group"
    } catch [Microsoft.PowerShell.Commands.MemberExistsException] {
      Say "access: $account already in $Group"
    } catch {
      Fail 6 "could not add $account to the local group ${Group}: $(ErrorText $_)"
    }
  }
}
AddToLocalGroup $RemoteDesktopGroup $LoginGroups
AddToLocalGroup $AdministratorsGroup $AdminGroups
if ($LoginGroups.Count -eq 0) { Say "access: no login groups: $RemoteDesktopGroup unchanged" }

# ---- verify ------------------------------------------------------------------------------------
$problems = New-Object System.Collections.Generic.List[string]
$channel = SecureChannelWorks 10
if ($channel) { Say "verify: secure channel to $DomainName works" } else { $problems.Add("Test-ComputerSecureChannel fails for $DomainName") }

function ToSid([string]$Account) {
  return ([System.Security.Principal.NTAccount]::new($Account)).Translate([System.Security.Principal.SecurityIdentifier]).Value
}
foreach ($u in $ProbeUsers) {
  try {
    $sid = ToSid "$NetbiosName\$u"
    Say "verify: $NetbiosName\$u is $sid"
  } catch {
    $problems.Add("user $NetbiosName\$u does not resolve through the domain: $(ErrorText $_)")
  }
}

# The SIDs of a local group's members (ADSI: works with members that no longer resolve).
function LocalGroupSids([string]$Group) {
  $sids = @()
  foreach ($member in @(([ADSI]"WinNT://./$Group,group").psbase.Invoke('Members'))) {
    $bytes = $member.GetType().InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
    $sids += ([System.Security.Principal.SecurityIdentifier]::new([byte[]]$bytes, 0)).Value
  }
  return $sids
}
foreach ($pair in @(@($RemoteDesktopGroup, $LoginGroups), @($AdministratorsGroup, $AdminGroups))) {
  $group = [string]$pair[0]
  $wanted = @($pair[1])
  if ($wanted.Count -eq 0) { continue }
  try { $present = LocalGroupSids $group } catch { $problems.Add("local group ${group} cannot be read: $(ErrorText $_)"); continue }
  foreach ($g in $wanted) {
    try {
      $sid = ToSid "$NetbiosName\$g"
      if ($present -contains $sid) { Say "verify: $NetbiosName\$g ($sid) is in $group" } else { $problems.Add("$NetbiosName\$g ($sid) is not in the local group $group") }
    } catch {
      $problems.Add("group $NetbiosName\$g does not resolve through the domain: $(ErrorText $_)")
    }
  }
}
if ($problems.Count -gt 0) { Fail 7 ("verification failed: " + ($problems -join '; ')) }

SetState 'JoinedBy' 'done'
if ($Already) { Say 'done: already joined' } else { Say 'done: joined' }
exit 0
