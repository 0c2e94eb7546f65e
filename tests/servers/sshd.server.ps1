<#
.SYNOPSIS
    Starts (or stops) the tests' cloud nodes: one sshd per node, each on its own loopback address
    (127.0.0.11, .12, ...) with its own host key, all accepting one generated test user key.
.DESCRIPTION
    Starts 6 nodes, or 50 for the benchmark: when $env:DF_BENCH is set (build.ps1 Bench sets it).
    The port is $env:DF_TEST_SSH_PORT, else 2222. In DF_TEST_SSH_DIR it leaves:
      id_ed25519, id_ed25519_pass   the test user's keys (the second with passphrase 'df-test-passphrase')
      id_ed25519_hooked             a third key, whose commands first source hook.sh when it exists, as a
                                    node that is slow or watched would: a test writes that file, and removes it
      known_hosts                   every node's host key
      nodes.json                    { User, Port, Nodes: [{ Name, Address }] }
      runs/                         where the tests keep the state of the services they start
      inventory.psd1                an inventory of all the nodes (tests/fixtures/remote/New-TestInventory.ps1,
                                    Redis database 63, heartbeats every 5 s, services' state in services/)
    Sets DF_TEST_SSH_DIR, DF_TEST_SSH_NODES, DF_TEST_SSH_PORT, DF_TEST_SSH_USER.
    Stop stops the sshd processes, and any test service still running under DF_TEST_SSH_DIR.
#>
param(
    [Parameter(Mandatory)][ValidateSet('Start', 'Stop')][string] $Action,
    [Parameter(Mandatory)][string] $StateDir
)
$ErrorActionPreference = 'Stop'
$dir = Join-Path $StateDir 'sshd'

function Stop-PidFile([string] $file) {
    $id = (Get-Content $file -ErrorAction SilentlyContinue | Select-Object -First 1) -as [int]
    if ($id) { Stop-Process -Id $id -Force -ErrorAction SilentlyContinue }
    Remove-Item $file -Force -ErrorAction SilentlyContinue
}

if ($Action -eq 'Stop') {
    # The sshd daemons, and any test service left running (tests keep theirs under runs/).
    if (Test-Path $dir) {
        Get-ChildItem $dir -Recurse -Filter '*.pid' | ForEach-Object { Stop-PidFile $_.FullName }
    }
    return
}

$sshd = '/usr/sbin/sshd'
if (-not (Test-Path $sshd)) { throw 'sshd is not installed (Debian package openssh-server; .ci/run installs it).' }
$bench = [bool]$env:DF_BENCH
$count = if ($bench) { 50 } else { 6 }
$port = if ($env:DF_TEST_SSH_PORT) { [int]$env:DF_TEST_SSH_PORT } else { 2222 }
$user = [Environment]::UserName

if (Test-Path $dir) { Remove-Item $dir -Recurse -Force }
New-Item -ItemType Directory $dir | Out-Null
# sshd insists on its privilege separation directory.
New-Item -ItemType Directory /run/sshd -Force | Out-Null   # -Force: the parts of a full test run start their nodes at once

ssh-keygen -q -t ed25519 -N '' -C 'df-test-user' -f (Join-Path $dir 'id_ed25519')
ssh-keygen -q -t ed25519 -N 'df-test-passphrase' -C 'df-test-user-pass' -f (Join-Path $dir 'id_ed25519_pass')
ssh-keygen -q -t ed25519 -N '' -C 'df-test-user-hooked' -f (Join-Path $dir 'id_ed25519_hooked')
$authorized = Join-Path $dir 'authorized_keys'
# The hooked key's forced command runs the command it was given in the same shell, after the
# hook: the cmdlets' own commands, made slow or watched without changing them.
$hook = Join-Path $dir 'hook.sh'
$forced = "h='$hook'; if [ -f `"`$h`" ]; then . `"`$h`"; fi; eval `"`$SSH_ORIGINAL_COMMAND`"".Replace('"', '\"')
@(Get-Content (Join-Path $dir 'id_ed25519.pub'), (Join-Path $dir 'id_ed25519_pass.pub')
  "command=`"$forced`" $(Get-Content (Join-Path $dir 'id_ed25519_hooked.pub'))") | Set-Content $authorized

$config = Join-Path $dir 'sshd_config'
# SHLVL=1: the nodes run each command without the login user's ~/.bashrc, as bash does in a nested
# shell. Bash reads that file for a command sshd starts, and a user's own can be slow (it
# costs seconds of CPU per command when it sets up language tools) or print text into the output.
@"
AuthorizedKeysFile $authorized
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers $user
MaxStartups 200
MaxSessions 50
UseDNS no
PrintMotd no
LogLevel ERROR
SetEnv SHLVL=1
"@ | Set-Content $config

$nodes = @()
$knownHosts = @()
for ($i = 1; $i -le $count; $i++) {
    $name = 'node{0:d2}' -f $i
    $address = "127.0.0.$(10 + $i)"
    $nodeDir = Join-Path $dir $name
    New-Item -ItemType Directory $nodeDir | Out-Null
    $hostKey = Join-Path $nodeDir 'ssh_host_ed25519_key'
    ssh-keygen -q -t ed25519 -N '' -C $name -f $hostKey
    # Without -D sshd binds, then daemonizes: when it returns, the node accepts connections.
    & $sshd -f $config -E (Join-Path $nodeDir 'sshd.log') -o "ListenAddress=${address}:$port" -o "HostKey=$hostKey" -o "PidFile=$(Join-Path $nodeDir 'sshd.pid')"
    if ($LASTEXITCODE -ne 0) { throw "sshd for $name did not start on ${address}:$port; see $nodeDir/sshd.log" }
    $nodes += [ordered]@{ Name = $name; Address = $address }
    $key = (Get-Content "$hostKey.pub").Split(' ')
    $knownHosts += "[$address]:$port $($key[0]) $($key[1])"
}
$knownHosts | Set-Content (Join-Path $dir 'known_hosts')
[ordered]@{ User = $user; Port = $port; Nodes = $nodes } | ConvertTo-Json -Depth 4 | Set-Content (Join-Path $dir 'nodes.json')

$env:DF_TEST_SSH_DIR = $dir
$env:DF_TEST_SSH_NODES = "$count"
$env:DF_TEST_SSH_PORT = "$port"
$env:DF_TEST_SSH_USER = $user
& (Join-Path $PSScriptRoot '../fixtures/remote/New-TestInventory.ps1') -Path (Join-Path $dir 'inventory.psd1') -RedisDb 63 -ServiceDir (Join-Path $dir 'services') -HeartbeatInterval 5
