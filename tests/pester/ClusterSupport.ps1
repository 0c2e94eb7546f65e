# The test Redis Cluster that build.ps1 starts (DF_TEST_REDIS_CLUSTER, its nodes' folders in
# DF_TEST_REDIS_CLUSTER_DIR), seen from outside the module with redis-cli. Dot-source in BeforeAll.
if (-not $env:DF_TEST_REDIS_CLUSTER) { throw 'DF_TEST_REDIS_CLUSTER is not set: run the tests through build.ps1 Test, which starts a Redis Cluster.' }

function Get-TestRedisClusterPorts {
    @($env:DF_TEST_REDIS_CLUSTER.Substring($env:DF_TEST_REDIS_CLUSTER.IndexOf('//') + 2).Split(',') | ForEach-Object { [int]$_.Split(':')[1] })
}

# The ports of the nodes that answer.
function Get-LiveClusterPorts { Get-TestRedisClusterPorts | Where-Object { (redis-cli -p $_ ping 2>$null) -eq 'PONG' } }

# The TLS cluster (DF_TEST_REDIS_CLUSTER_TLS: three masters, no replica): redis-cli's TLS options, and its URI with the CA and the client certificate.
function Get-TestRedisClusterTlsCli { @('--tls', '--cacert', "$env:DF_TEST_TLS/ca.pem", '--cert', "$env:DF_TEST_TLS/client.pem", '--key', "$env:DF_TEST_TLS/client.key") }
function Get-TestRedisClusterTlsUri { "$env:DF_TEST_REDIS_CLUSTER_TLS`?ca=$env:DF_TEST_TLS/ca.pem&cert=$env:DF_TEST_TLS/client.pem&key=$env:DF_TEST_TLS/client.key" }

# Empties every node of the TLS cluster (each a master); returns its URI.
function Clear-TestRedisClusterTls {
    if (-not $env:DF_TEST_REDIS_CLUSTER_TLS) { throw 'DF_TEST_REDIS_CLUSTER_TLS is not set: run the tests through build.ps1 Test, which starts the TLS Redis Cluster.' }
    $cli = Get-TestRedisClusterTlsCli
    foreach ($node in $env:DF_TEST_REDIS_CLUSTER_TLS.Substring($env:DF_TEST_REDIS_CLUSTER_TLS.IndexOf('//') + 2).Split(',')) {
        $answer = redis-cli @cli -h $node.Split(':')[0] -p $node.Split(':')[1] FLUSHALL
        if ($answer -ne 'OK') { throw "Could not empty the TLS Redis Cluster's node $node`: $answer" }
    }
    Get-TestRedisClusterTlsUri
}

# Empties every master; returns the cluster's URI.
function Clear-TestRedisCluster {
    foreach ($p in Get-LiveClusterPorts) { if ((redis-cli -p $p ROLE)[0] -eq 'master') { redis-cli -p $p FLUSHALL | Out-Null } }
    $env:DF_TEST_REDIS_CLUSTER
}

# The port of the master that serves $Key's slot, as a live node sees it.
function Get-TestRedisClusterMaster([string] $Key) {
    $p = @(Get-LiveClusterPorts)[0]
    $slot = [int](redis-cli -p $p CLUSTER KEYSLOT $Key)
    foreach ($line in redis-cli -p $p CLUSTER NODES) {
        $f = $line -split ' '
        if ($f[2] -notmatch 'master' -or $f[2] -match 'fail') { continue }
        foreach ($range in $f | Select-Object -Skip 8) {
            $from, $to = $range -split '-'
            if (-not $to) { $to = $from }
            if ($slot -ge [int]$from -and $slot -le [int]$to) { return [int]($f[1] -split '[:@]')[1] }
        }
    }
    throw "No master serves slot $slot of $Key."
}

# Waits until the replica of the master on $Port has every write the master took.
function Wait-TestRedisClusterReplicated([int] $Port) {
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ($true) {
        $info = redis-cli -p $Port INFO replication
        $master = [long](($info | Select-String '^master_repl_offset:(\d+)').Matches.Groups[1].Value)
        $replica = ($info | Select-String '^slave0:.*offset=(\d+)').Matches
        if ($replica -and [long]$replica.Groups[1].Value -ge $master) { return }
        if ([DateTime]::UtcNow -gt $deadline) { throw "The replica of 127.0.0.1:$Port did not catch up within 30 s." }
        Start-Sleep -Milliseconds 20
    }
}

# Waits until every live node says cluster_state:ok and no failed master holds slots any more.
function Wait-TestRedisClusterOk {
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while ($true) {
        $ok = $true
        foreach ($p in Get-LiveClusterPorts) {
            if (-not ((redis-cli -p $p CLUSTER INFO) -match '^cluster_state:ok')) { $ok = $false }
            foreach ($line in redis-cli -p $p CLUSTER NODES) {
                $f = $line -split ' '
                $port = [int]($f[1] -split '[:@]')[1]
                if ($port -notin @(Get-LiveClusterPorts) -and ($f[2] -notmatch '(^|,)fail(,|$)' -or $f.Count -gt 8)) { $ok = $false }
            }
        }
        if ($ok) { return }
        if ([DateTime]::UtcNow -gt $deadline) { throw 'The test Redis Cluster did not fail over to cluster_state:ok within 60 s.' }
        Start-Sleep -Milliseconds 200
    }
}

# Starts again every node that was killed (it rejoins as a replica) and waits for three replicas.
function Restore-TestRedisCluster {
    foreach ($p in Get-TestRedisClusterPorts) {
        if ((redis-cli -p $p ping 2>$null) -eq 'PONG') { continue }
        $dir = Join-Path $env:DF_TEST_REDIS_CLUSTER_DIR $p
        $proc = Start-Process $env:DF_TEST_REDIS_SERVER -PassThru -RedirectStandardOutput (Join-Path $dir 'redis.log') -RedirectStandardError (Join-Path $dir 'redis.err') -ArgumentList (Join-Path $dir 'redis.conf')
        $proc.Id | Set-Content (Join-Path $dir 'node.pid')
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    foreach ($p in Get-TestRedisClusterPorts) {
        while (-not ((redis-cli -p $p CLUSTER INFO 2>$null) -match '^cluster_state:ok') -or
               @(redis-cli -p $p CLUSTER NODES | Where-Object { $_ -match '[ ,]slave ' -and $_ -notmatch 'fail' }).Count -lt 3) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "The test Redis Cluster did not get its three replicas back within 60 s." }
            Start-Sleep -Milliseconds 200
        }
    }
}
