<#
.SYNOPSIS
    Starts (or stops) the tests' redis-server on 127.0.0.1, on a port of its own, with no persistence.
    Sets DF_TEST_REDIS (host:port) and DF_TEST_REDIS_SERVER (the redis-server binary), and
    DF_TEST_REDIS_MODULE_USER (user:password@host:port): an ACL user allowed only the commands
    the module sends, with a random password. A second redis-server, one port above, serves TLS
    only and asks for a client certificate (certificates from TestCertificates.ps1); it sets
    DF_TEST_REDIS_TLS (host:port). A Redis Cluster of three masters and three replicas listens on
    DF_TEST_REDIS_CLUSTER_PORT to its port + 5 (cluster bus at + 10000); it sets
    DF_TEST_REDIS_CLUSTER (redis-cluster://host:port,… every node as a seed) and
    DF_TEST_REDIS_CLUSTER_DIR (a folder per node, named by its port: redis.conf, nodes.conf, node.pid).
    A Redis Cluster of three masters and no replica serves TLS only (between its nodes too) on
    127.0.0.2 to .4 (and 127.0.0.1), DF_TEST_REDIS_CLUSTER_PORT + 6 to + 8 (bus at + 10000), each
    node with a certificate naming its own address only, the client's certificate optional; it sets
    DF_TEST_REDIS_CLUSTER_TLS (rediss-cluster://host:port,… with no query: the files are in
    DF_TEST_TLS) and DF_TEST_REDIS_CLUSTER_TLS_DIR (its nodes' folders, as above).
#>
param(
    [Parameter(Mandatory)][ValidateSet('Start', 'Stop')][string] $Action,
    [Parameter(Mandatory)][string] $StateDir
)
$ErrorActionPreference = 'Stop'
$pidFile = Join-Path $StateDir 'redis.pid'

$tlsPidFile = Join-Path $StateDir 'redis-tls.pid'
$clusterDir = Join-Path $StateDir 'redis-cluster'
$tlsClusterDir = Join-Path $StateDir 'redis-cluster-tls'

if ($Action -eq 'Stop') {
    $clusterPids = @(Get-ChildItem $clusterDir, $tlsClusterDir -Filter 'node.pid' -Recurse -ErrorAction SilentlyContinue | ForEach-Object FullName)
    foreach ($file in @($pidFile, $tlsPidFile) + $clusterPids) {
        if (Test-Path $file) {
            $p = Get-Process -Id (Get-Content $file) -ErrorAction SilentlyContinue
            if ($p) { $p.Kill(); $p.WaitForExit(5000) | Out-Null }
            Remove-Item $file
        }
    }
    return
}

$server = Get-Command redis-server -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 -ExpandProperty Source
if (-not $server) { throw 'redis-server is not installed (Debian package redis-server; .ci/run installs it).' }
$port = if ($env:DF_TEST_REDIS_PORT) { [int]$env:DF_TEST_REDIS_PORT } else { 6390 }
$dir = Join-Path $StateDir 'redis'
New-Item -ItemType Directory $dir -Force | Out-Null
$proc = Start-Process $server -PassThru -RedirectStandardOutput (Join-Path $dir 'redis.log') -RedirectStandardError (Join-Path $dir 'redis.err') -ArgumentList @(
    '--port', $port, '--bind', '127.0.0.1', '--save', '""', '--appendonly', 'no', '--databases', '1024', '--dir', $dir, '--daemonize', 'no')
$proc.Id | Set-Content $pidFile
Start-Sleep -Milliseconds 200
if ($proc.HasExited) { throw "redis-server could not start on 127.0.0.1:${port} (is the port taken?); see $dir/redis.log" }
$deadline = [DateTime]::UtcNow.AddSeconds(120)
while ((redis-cli -h 127.0.0.1 -p $port ping 2>$null) -ne 'PONG') {
    if ($proc.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "redis-server did not start on 127.0.0.1:$port; see $dir/redis.log" }
    Start-Sleep -Milliseconds 100
}
# The Redis that answers must be the one started here, not another run's, which the tests would empty.
$answering = (redis-cli -h 127.0.0.1 -p $port INFO server | Select-String '^process_id:(\d+)').Matches.Groups[1].Value
if ($answering -ne "$($proc.Id)") { throw "Another redis-server (process $answering) answers on 127.0.0.1:${port}: set DF_TEST_REDIS_PORT to a free port." }
$env:DF_TEST_REDIS = "127.0.0.1:$port"
# What the module sends: its data path (SELECT, SCAN, TYPE, MGET, MSET, DEL, EVAL, EVALSHA,
# SCRIPT LOAD), the migration log's set of keys (SMEMBERS, SISMEMBER, SADD, and SREM and SCARD
# in its scripts) and the lock's (GET, SET, EVAL), plus what StackExchange.Redis asks on connecting.
$modulePassword = [guid]::NewGuid().ToString('N')
$allowed = 'select', 'scan', 'type', 'mget', 'mset', 'del', 'eval', 'evalsha', 'script|load', 'smembers', 'sismember', 'sadd', 'srem', 'scard', 'get', 'set', 'ping', 'echo' | ForEach-Object { "+$_" }
$answer = redis-cli -h 127.0.0.1 -p $port ACL SETUSER df-module reset on ">$modulePassword" '~*' resetchannels -@all @allowed
if ($answer -ne 'OK') { throw "Could not add the Redis ACL user df-module: $answer" }
$env:DF_TEST_REDIS_MODULE_USER = "df-module:$modulePassword@127.0.0.1:$port"
$env:DF_TEST_REDIS_SERVER = $server

& (Join-Path $PSScriptRoot 'TestCertificates.ps1') -StateDir $StateDir
$tls = $env:DF_TEST_TLS
$tlsPort = $port + 1
$tlsDir = Join-Path $StateDir 'redis-tls'
New-Item -ItemType Directory $tlsDir -Force | Out-Null
$proc = Start-Process $server -PassThru -RedirectStandardOutput (Join-Path $tlsDir 'redis.log') -RedirectStandardError (Join-Path $tlsDir 'redis.err') -ArgumentList @(
    '--port', '0', '--tls-port', $tlsPort, '--bind', '127.0.0.1', '--save', '""', '--appendonly', 'no', '--databases', '1024', '--dir', $tlsDir, '--daemonize', 'no',
    '--tls-cert-file', "$tls/server.pem", '--tls-key-file', "$tls/server.key", '--tls-ca-cert-file', "$tls/ca.pem", '--tls-auth-clients', 'yes')
$proc.Id | Set-Content $tlsPidFile
$tlsCli = @('-h', '127.0.0.1', '-p', $tlsPort, '--tls', '--cacert', "$tls/ca.pem", '--cert', "$tls/client.pem", '--key', "$tls/client.key")
$deadline = [DateTime]::UtcNow.AddSeconds(120)
while ((redis-cli @tlsCli ping 2>$null) -ne 'PONG') {
    if ($proc.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "redis-server did not start TLS on 127.0.0.1:$tlsPort (is the port taken? is it built with TLS?); see $tlsDir/redis.log" }
    Start-Sleep -Milliseconds 100
}
$answering = (redis-cli @tlsCli INFO server | Select-String '^process_id:(\d+)').Matches.Groups[1].Value
if ($answering -ne "$($proc.Id)") { throw "Another redis-server (process $answering) answers on 127.0.0.1:${tlsPort}: set DF_TEST_REDIS_PORT to a free port." }
$env:DF_TEST_REDIS_TLS = "127.0.0.1:$tlsPort"


# The clusters: nodes on consecutive ports, each with a configuration file (so that a test that
# kills a node can start it again as it was), all started at once, then joined by redis-cli.
# A node starts empty and alone: a replica's copy of its master's data (dump.rdb) from a run before would be loaded.
function Start-ClusterNode([string] $Dir, [int] $Port, [string[]] $Settings) {
    $nodeDir = Join-Path $Dir $Port
    New-Item -ItemType Directory $nodeDir -Force | Out-Null
    Remove-Item (Join-Path $nodeDir 'nodes.conf'), (Join-Path $nodeDir 'dump.rdb') -ErrorAction SilentlyContinue
    (@('bind 127.0.0.1', 'save ""', 'appendonly no', "dir $nodeDir", 'daemonize no',
        'cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000') + $Settings) | Set-Content (Join-Path $nodeDir 'redis.conf')
    $proc = Start-Process $server -PassThru -RedirectStandardOutput (Join-Path $nodeDir 'redis.log') -RedirectStandardError (Join-Path $nodeDir 'redis.err') -ArgumentList (Join-Path $nodeDir 'redis.conf')
    $proc.Id | Set-Content (Join-Path $nodeDir 'node.pid')
}
# Waits for a node to answer, and checks that the redis-server answering is the one started here.
function Wait-ClusterNode([string] $Dir, [int] $Port, [string[]] $Cli) {
    $deadline = [DateTime]::UtcNow.AddSeconds(120)
    while ((redis-cli @Cli -h 127.0.0.1 -p $Port ping 2>$null) -ne 'PONG') {
        if ([DateTime]::UtcNow -gt $deadline) { throw "The cluster's redis-server did not start on 127.0.0.1:$Port (is the port taken? set DF_TEST_REDIS_CLUSTER_PORT); see $Dir/$Port/redis.log" }
        Start-Sleep -Milliseconds 100
    }
    $answering = (redis-cli @Cli -h 127.0.0.1 -p $Port INFO server | Select-String '^process_id:(\d+)').Matches.Groups[1].Value
    if ($answering -ne (Get-Content (Join-Path $Dir "$Port/node.pid"))) { throw "Another redis-server (process $answering) answers on 127.0.0.1:${Port}: set DF_TEST_REDIS_CLUSTER_PORT to free ports." }
}
# Waits until a cluster says cluster_state:ok on every node and sees its replicas.
function Wait-ClusterOk([string] $Dir, [int[]] $Ports, [int] $Replicas, [string[]] $Cli) {
    $deadline = [DateTime]::UtcNow.AddSeconds(120)
    foreach ($p in $Ports) {
        while (-not ((redis-cli @Cli -h 127.0.0.1 -p $p CLUSTER INFO) -match '^cluster_state:ok')) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "The test Redis Cluster on 127.0.0.1:$p did not reach cluster_state:ok within 120 s; see $Dir." }
            Start-Sleep -Milliseconds 100
        }
        # Each master's replica too: the fault tests fail a master over to it.
        while (@(redis-cli @Cli -h 127.0.0.1 -p $p CLUSTER NODES | Where-Object { $_ -match '[ ,]slave ' }).Count -lt $Replicas) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "The test Redis Cluster on 127.0.0.1:$p did not see its $Replicas replicas within 120 s; see $Dir." }
            Start-Sleep -Milliseconds 100
        }
    }
}

# Six nodes in clear text, three masters with a replica each.
$clusterPort = if ($env:DF_TEST_REDIS_CLUSTER_PORT) { [int]$env:DF_TEST_REDIS_CLUSTER_PORT } else { 7380 }
$plainPorts = $clusterPort..($clusterPort + 5)
foreach ($p in $plainPorts) { Start-ClusterNode $clusterDir $p "port $p" }
# Three more over TLS, three masters and no replica: TLS between the nodes too, the client's
# certificate optional (a build that cannot offer one, Windows PowerShell's, still connects).
# A node timeout of 20 s (the last setting wins): a test stops a master for its 3 s reply timeout,
# and with no replica to fail over to, the others must not mark it failed meanwhile (which stops
# their writes with CLUSTERDOWN).
# Each node has an address and a certificate of its own, naming that address only (127.0.0.2 to .4,
# node2.pem to node4.pem), as production clusters do; it listens on 127.0.0.1 too, an address its
# certificate does not name.
$tlsPorts = ($clusterPort + 6)..($clusterPort + 8)
$tlsArgs = @('--tls', '--cacert', "$tls/ca.pem", '--cert', "$tls/client.pem", '--key', "$tls/client.key")
$tlsNodes = @()
for ($i = 0; $i -lt 3; $i++) {
    $p = $tlsPorts[$i]; $n = $i + 2
    $tlsNodes += "127.0.0.${n}:$p"
    Start-ClusterNode $tlsClusterDir $p 'port 0', "tls-port $p", "cluster-port $($p + 10000)", 'tls-cluster yes', 'tls-replication yes',
        "bind 127.0.0.$n 127.0.0.1", "cluster-announce-ip 127.0.0.$n",
        "tls-cert-file $tls/node$n.pem", "tls-key-file $tls/node$n.key", "tls-ca-cert-file $tls/ca.pem", 'tls-auth-clients optional', 'cluster-node-timeout 20000'
}
foreach ($p in $plainPorts) { Wait-ClusterNode $clusterDir $p @() }
foreach ($p in $tlsPorts) { Wait-ClusterNode $tlsClusterDir $p $tlsArgs }

# Both clusters are joined at once: redis-cli waits a second or more for each to agree.
$nodes = @($plainPorts | ForEach-Object { "127.0.0.1:$_" })
$create = [Diagnostics.ProcessStartInfo]::new('redis-cli')
foreach ($a in $tlsArgs + @('--cluster', 'create') + $tlsNodes + @('--cluster-replicas', '0', '--cluster-yes')) { $create.ArgumentList.Add($a) }
$create.RedirectStandardOutput = $true
$create.RedirectStandardError = $true
$tlsCreate = [Diagnostics.Process]::Start($create)
$created = redis-cli --cluster create @nodes --cluster-replicas 1 --cluster-yes 2>&1
if ($LASTEXITCODE -ne 0) { throw "redis-cli --cluster create failed: $($created -join "`n")" }
$tlsCreated = $tlsCreate.StandardOutput.ReadToEnd() + $tlsCreate.StandardError.ReadToEnd()
$tlsCreate.WaitForExit()
if ($tlsCreate.ExitCode -ne 0) { throw "redis-cli --cluster create failed for the TLS cluster: $tlsCreated" }
Wait-ClusterOk $clusterDir $plainPorts 3 @()
Wait-ClusterOk $tlsClusterDir $tlsPorts 0 $tlsArgs
$env:DF_TEST_REDIS_CLUSTER = "redis-cluster://$($nodes -join ',')"
$env:DF_TEST_REDIS_CLUSTER_DIR = $clusterDir
$env:DF_TEST_REDIS_CLUSTER_TLS = "rediss-cluster://$($tlsNodes -join ',')"
$env:DF_TEST_REDIS_CLUSTER_TLS_DIR = $tlsClusterDir
