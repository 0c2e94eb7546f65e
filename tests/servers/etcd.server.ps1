<#
.SYNOPSIS
    Starts (or stops) the tests' etcd servers on 127.0.0.1: one open, one with authentication
    enabled (user root, a random password; tokens live 2 idle seconds), one serving HTTPS to
    clients with a certificate (certificates from TestCertificates.ps1). Data in the state folder,
    no fsync, fresh each start.
.DESCRIPTION
    The client port is $env:DF_TEST_ETCD_PORT, else 23790; the peer port is 10 above it. The
    server with authentication listens one above each, the HTTPS one two above. Needs etcd 3.4 or newer (Debian package
    etcd-server, 3.4.23 on Debian 12; .ci/run installs it), whose JSON gateway serves /v3/....
    Sets DF_TEST_ETCD (host:port), DF_TEST_ETCD_AUTH (root:password@host:port) and
    DF_TEST_ETCD_TLS (host:port).
    Also starts a three-member cluster: member i serves clients on $env:DF_TEST_ETCD_CLUSTER_PORT
    (else the client port above + 13) + 2i, its peers one above. Sets DF_TEST_ETCD_CLUSTER (etcd://h:p,h:p,h:p) and
    DF_TEST_ETCD_CLUSTER_STATE, the folder holding member<i>.pid (its process id) and member<i>.sh
    (what starts it again, on its data).
    Stop stops the etcd processes this script started, by the ids it wrote down.
#>
param(
    [Parameter(Mandatory)][ValidateSet('Start', 'Stop')][string] $Action,
    [Parameter(Mandatory)][string] $StateDir
)
$ErrorActionPreference = 'Stop'
$dir = Join-Path $StateDir 'etcd'

function Stop-PidFile([string] $file) {
    $id = (Get-Content $file -ErrorAction SilentlyContinue | Select-Object -First 1) -as [int]
    if ($id) {
        $p = Get-Process -Id $id -ErrorAction SilentlyContinue
        if ($p) { $p.Kill(); $p.WaitForExit(10000) | Out-Null }
    }
    Remove-Item $file -Force -ErrorAction SilentlyContinue
}

if ($Action -eq 'Stop') {
    if (Test-Path $dir) { Get-ChildItem $dir -Filter '*.pid' | ForEach-Object { Stop-PidFile $_.FullName } }
    return
}

$etcd = Get-Command etcd -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 -ExpandProperty Source
if (-not $etcd) { throw 'etcd is not installed (Debian package etcd-server; .ci/run installs it).' }
$port = if ($env:DF_TEST_ETCD_PORT) { [int]$env:DF_TEST_ETCD_PORT } else { 23790 }

if (Test-Path $dir) {
    Get-ChildItem $dir -Filter '*.pid' | ForEach-Object { Stop-PidFile $_.FullName }
    Remove-Item $dir -Recurse -Force
}
New-Item -ItemType Directory $dir | Out-Null

# Starts etcd with these arguments from the script <name>.sh (which a test runs again to restart
# a member it killed), its process id in <name>.pid.
function Start-EtcdProcess([string] $Name, [string[]] $Arguments) {
    # etcd writes its log straight to a file: through a pipe to this shell, it would die of
    # SIGPIPE at its first line of log once this shell has exited.
    $command = (@($etcd) + $Arguments | ForEach-Object { "'$_'" }) -join ' '
    $script = Join-Path $dir "$Name.sh"
    "exec $command >>'$(Join-Path $dir $Name).log' 2>&1" | Set-Content $script
    $proc = Start-Process /bin/sh -PassThru -ArgumentList "`"$script`""
    $proc.Id | Set-Content (Join-Path $dir "$Name.pid")
    $proc
}

function Start-Etcd([string] $Name, [int] $ClientPort, [int] $PeerPort, [string[]] $Extra = @(), [switch] $Tls) {
    $data = Join-Path $dir $Name
    $client = "$(if ($Tls) { 'https' } else { 'http' })://127.0.0.1:$ClientPort"
    # Over HTTPS the check below shows this client certificate and does not check the server's:
    # what it checks is the member's name.
    $check = if ($Tls) { @{ SkipCertificateCheck = $true; Certificate = [Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile("$env:DF_TEST_TLS/client.pem", "$env:DF_TEST_TLS/client.key") } } else { @{} }
    $peer = "http://127.0.0.1:$PeerPort"
    # A member name of this start only: an etcd that answers on the port under another name is
    # not ours (another run's), and the tests, which empty it, must not use it.
    $member = "$Name-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    $arguments = @(
        '--name', $member, '--data-dir', $data,
        '--listen-client-urls', $client, '--advertise-client-urls', $client,
        '--listen-peer-urls', $peer, '--initial-advertise-peer-urls', $peer,
        '--initial-cluster', "$member=$peer", '--initial-cluster-state', 'new',
        '--unsafe-no-fsync') + $Extra
    $proc = Start-EtcdProcess $Name $arguments
    $deadline = [DateTime]::UtcNow.AddSeconds(120)
    while ($true) {
        $names = try { @((Invoke-RestMethod @check -NoProxy -TimeoutSec 10 -Method Post -Uri "$client/v3/cluster/member/list" -Body '{}').members | ForEach-Object { $_.PSObject.Properties['name'].Value }) } catch { @() }
        if ($names -contains $member) { break }
        if ($names -and $proc.HasExited) { throw "Another etcd (member $($names -join ', ')) answers on ${client}: set DF_TEST_ETCD_PORT to a free port." }
        if ($proc.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "etcd did not start on ${client} (is the port taken?); see $data.log" }
        Start-Sleep -Milliseconds 100
    }
    $client
}

function Invoke-Gateway([string] $Url, [hashtable] $Body) {
    Invoke-RestMethod -NoProxy -Method Post -ContentType 'application/json' -Uri $Url -Body ($Body | ConvertTo-Json -Compress) | Out-Null
}

$open = Start-Etcd 'etcd' $port ($port + 10)
# Sign-in tokens expire after 2 idle seconds, so that the tests see the module sign in again.
$secured = Start-Etcd 'etcd-auth' ($port + 1) ($port + 11) '--auth-token-ttl', '2'
$password = [guid]::NewGuid().ToString('N')
Invoke-Gateway "$secured/v3/auth/user/add" @{ name = 'root'; password = $password }
Invoke-Gateway "$secured/v3/auth/user/grant" @{ user = 'root'; role = 'root' }
Invoke-Gateway "$secured/v3/auth/enable" @{}

& (Join-Path $PSScriptRoot 'TestCertificates.ps1') -StateDir $StateDir
$tls = $env:DF_TEST_TLS
$https = Start-Etcd 'etcd-tls' ($port + 2) ($port + 12) -Tls '--cert-file', "$tls/server.pem", '--key-file', "$tls/server.key", '--trusted-ca-file', "$tls/ca.pem", '--client-cert-auth'

# The cluster: three members, member i serving clients on base+2i, its peers on base+2i+1.
# Unset, it follows DF_TEST_ETCD_PORT into the gap above the single servers' ports (+13 to +18),
# so that a run that moved etcd elsewhere moves the cluster too.
$base = if ($env:DF_TEST_ETCD_CLUSTER_PORT) { [int]$env:DF_TEST_ETCD_CLUSTER_PORT } else { $port + 13 }
$suffix = [guid]::NewGuid().ToString('N').Substring(0, 12)
$members = 0..2 | ForEach-Object { [pscustomobject]@{
    Name = "member$_"; Member = "member$_-$suffix"; Client = "http://127.0.0.1:$($base + 2 * $_)"; Peer = "http://127.0.0.1:$($base + 2 * $_ + 1)" } }
$initial = ($members | ForEach-Object { "$($_.Member)=$($_.Peer)" }) -join ','
$procs = foreach ($m in $members) {
    Start-EtcdProcess $m.Name @('--name', $m.Member, '--data-dir', (Join-Path $dir $m.Name),
        '--listen-client-urls', $m.Client, '--advertise-client-urls', $m.Client,
        '--listen-peer-urls', $m.Peer, '--initial-advertise-peer-urls', $m.Peer,
        '--initial-cluster', $initial, '--initial-cluster-state', 'new', '--initial-cluster-token', "df-test-$suffix",
        '--unsafe-no-fsync')
}
# Healthy: every member answers under its own name and has a leader.
$deadline = [DateTime]::UtcNow.AddSeconds(120)
foreach ($i in 0..2) {
    $m = $members[$i]
    while ($true) {
        $names = try { @((Invoke-RestMethod -NoProxy -TimeoutSec 10 -Method Post -Uri "$($m.Client)/v3/cluster/member/list" -Body '{}').members | ForEach-Object { $_.PSObject.Properties['name'].Value }) } catch { @() }
        $healthy = try { (Invoke-RestMethod -NoProxy -TimeoutSec 10 -Uri "$($m.Client)/health").health -eq 'true' } catch { $false }
        if ($healthy -and $names -contains $m.Member) { break }
        if ($names -and $procs[$i].HasExited) { throw "Another etcd (member $($names -join ', ')) answers on $($m.Client): set DF_TEST_ETCD_CLUSTER_PORT to a free port (it uses 6 ports from there)." }
        if ($procs[$i].HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "The etcd cluster's $($m.Name) did not start on $($m.Client) (is the port taken?); see $(Join-Path $dir $m.Name).log" }
        Start-Sleep -Milliseconds 100
    }
}
$env:DF_TEST_ETCD_CLUSTER = 'etcd://' + (($members | ForEach-Object { $_.Client -replace '^http://', '' }) -join ',')
# The tests kill members (by the id in member<i>.pid) and start them again (sh member<i>.sh).
$env:DF_TEST_ETCD_CLUSTER_STATE = $dir

$env:DF_TEST_ETCD = $open -replace '^http://', ''
$env:DF_TEST_ETCD_TLS = $https -replace '^https://', ''
$env:DF_TEST_ETCD_AUTH = "root:$password@$($secured -replace '^http://', '')"
