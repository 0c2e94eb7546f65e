<#
.SYNOPSIS
    Starts (or stops) the tests' redis-server on 127.0.0.1, on a port of its own, with no persistence.
    Sets DF_TEST_REDIS (host:port) and DF_TEST_REDIS_SERVER (the redis-server binary), and
    DF_TEST_REDIS_MODULE_USER (user:password@host:port): an ACL user allowed only the commands
    the module sends, with a random password. A second redis-server, one port above, serves TLS
    only and asks for a client certificate (certificates from TestCertificates.ps1); it sets
    DF_TEST_REDIS_TLS (host:port).
#>
param(
    [Parameter(Mandatory)][ValidateSet('Start', 'Stop')][string] $Action,
    [Parameter(Mandatory)][string] $StateDir
)
$ErrorActionPreference = 'Stop'
$pidFile = Join-Path $StateDir 'redis.pid'

$tlsPidFile = Join-Path $StateDir 'redis-tls.pid'

if ($Action -eq 'Stop') {
    foreach ($file in $pidFile, $tlsPidFile) {
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
