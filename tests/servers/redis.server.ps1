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
#>
param(
    [Parameter(Mandatory)][ValidateSet('Start', 'Stop')][string] $Action,
    [Parameter(Mandatory)][string] $StateDir
)
$ErrorActionPreference = 'Stop'
$pidFile = Join-Path $StateDir 'redis.pid'

$tlsPidFile = Join-Path $StateDir 'redis-tls.pid'
$clusterDir = Join-Path $StateDir 'redis-cluster'

if ($Action -eq 'Stop') {
    $clusterPids = @(Get-ChildItem $clusterDir -Filter 'node.pid' -Recurse -ErrorAction SilentlyContinue | ForEach-Object FullName)
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
$deadline = [DateTime]::UtcNow.AddSeconds(10)
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
$deadline = [DateTime]::UtcNow.AddSeconds(10)
while ((redis-cli @tlsCli ping 2>$null) -ne 'PONG') {
    if ($proc.HasExited -or [DateTime]::UtcNow -gt $deadline) { throw "redis-server did not start TLS on 127.0.0.1:$tlsPort (is the port taken? is it built with TLS?); see $tlsDir/redis.log" }
    Start-Sleep -Milliseconds 100
}
$answering = (redis-cli @tlsCli INFO server | Select-String '^process_id:(\d+)').Matches.Groups[1].Value
if ($answering -ne "$($proc.Id)") { throw "Another redis-server (process $answering) answers on 127.0.0.1:${tlsPort}: set DF_TEST_REDIS_PORT to a free port." }
$env:DF_TEST_REDIS_TLS = "127.0.0.1:$tlsPort"


# The cluster: six nodes on consecutive ports, joined by redis-cli, three masters with a replica each.
$clusterPort = if ($env:DF_TEST_REDIS_CLUSTER_PORT) { [int]$env:DF_TEST_REDIS_CLUSTER_PORT } else { 7380 }
$nodes = @()
foreach ($p in $clusterPort..($clusterPort + 5)) {
    $nodeDir = Join-Path $clusterDir $p
    New-Item -ItemType Directory $nodeDir -Force | Out-Null
    # A node starts empty and alone: a replica's copy of its master's data (dump.rdb) from a run before would be loaded.
    Remove-Item (Join-Path $nodeDir 'nodes.conf'), (Join-Path $nodeDir 'dump.rdb') -ErrorAction SilentlyContinue
    # A configuration file, so that a test that kills a node can start it again as it was.
    @("port $p", 'bind 127.0.0.1', 'save ""', 'appendonly no', "dir $nodeDir", 'daemonize no',
        'cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000') | Set-Content (Join-Path $nodeDir 'redis.conf')
    $proc = Start-Process $server -PassThru -RedirectStandardOutput (Join-Path $nodeDir 'redis.log') -RedirectStandardError (Join-Path $nodeDir 'redis.err') -ArgumentList (Join-Path $nodeDir 'redis.conf')
    $proc.Id | Set-Content (Join-Path $nodeDir 'node.pid')
    $nodes += "127.0.0.1:$p"
}
foreach ($p in $clusterPort..($clusterPort + 5)) {
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ((redis-cli -h 127.0.0.1 -p $p ping 2>$null) -ne 'PONG') {
        if ([DateTime]::UtcNow -gt $deadline) { throw "The cluster's redis-server did not start on 127.0.0.1:$p (is the port taken? set DF_TEST_REDIS_CLUSTER_PORT); see $clusterDir/$p/redis.log" }
        Start-Sleep -Milliseconds 100
    }
    $answering = (redis-cli -h 127.0.0.1 -p $p INFO server | Select-String '^process_id:(\d+)').Matches.Groups[1].Value
    if ($answering -ne (Get-Content (Join-Path $clusterDir "$p/node.pid"))) { throw "Another redis-server (process $answering) answers on 127.0.0.1:${p}: set DF_TEST_REDIS_CLUSTER_PORT to free ports." }
}
$created = redis-cli --cluster create @nodes --cluster-replicas 1 --cluster-yes 2>&1
if ($LASTEXITCODE -ne 0) { throw "redis-cli --cluster create failed: $($created -join "`n")" }
function Wait-ClusterOk([int] $Port) {
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while (-not ((redis-cli -h 127.0.0.1 -p $Port CLUSTER INFO) -match '^cluster_state:ok')) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "The test Redis Cluster on 127.0.0.1:$Port did not reach cluster_state:ok within 30 s; see $clusterDir." }
        Start-Sleep -Milliseconds 200
    }
    # Each master's replica too: the fault tests fail a master over to it.
    while (@(redis-cli -h 127.0.0.1 -p $Port CLUSTER NODES | Where-Object { $_ -match '[ ,]slave ' }).Count -lt 3) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "The test Redis Cluster on 127.0.0.1:$Port did not see its three replicas within 30 s; see $clusterDir." }
        Start-Sleep -Milliseconds 200
    }
}
foreach ($p in $clusterPort..($clusterPort + 5)) { Wait-ClusterOk $p }
$env:DF_TEST_REDIS_CLUSTER = "redis-cluster://$($nodes -join ',')"
$env:DF_TEST_REDIS_CLUSTER_DIR = $clusterDir
