# Shared by the Pester files: the test Redis that build.ps1 starts, and small helpers to
# look at it from outside the module. Dot-source in BeforeAll.
$script:Endpoint = $env:DF_TEST_REDIS
if (-not $script:Endpoint) { throw 'DF_TEST_REDIS is not set: run the tests through build.ps1 Test, which starts redis-server.' }
$script:RedisHost, $script:RedisPort = $script:Endpoint.Split(':')

function Invoke-RedisCli([int] $Index, [Parameter(ValueFromRemainingArguments)] [string[]] $Arguments) {
    redis-cli -h $script:RedisHost -p $script:RedisPort -n $Index @Arguments
}

# An emptied Redis database for one test; returns its URI.
function New-TestRedis([int] $Index) {
    Invoke-RedisCli $Index FLUSHDB | Out-Null
    "redis://$($script:Endpoint)/$Index"
}

# Every key and value of a Redis database, sorted: to compare a database before and after.
function Get-RedisDump([int] $Index) {
    # The migration log's set of keys is not a string (GET fails on it, which would shift every value after it).
    $keys = @(Invoke-RedisCli $Index --scan | Where-Object { $_ -ne '{df_upgrade_log_index}' } | Sort-Object)
    if ($keys.Count -eq 0) { return '' }
    $values = $keys | ForEach-Object { "GET `"$($_ -replace '"', '\"')`"" } | redis-cli -h $script:RedisHost -p $script:RedisPort -n $Index
    ($keys | ForEach-Object -Begin { $i = 0 } -Process { "$_ = $($values[$i++])" }) -join "`n"
}

# The commands run on Redis database $Index since Reset-RedisStats, seen through MONITOR, each as
# its words (command name first; commands a Lua script runs are listed after the EVAL). MONITOR
# sees every database: commands on the others are left out.
$script:Monitor = $null
function Reset-RedisStats {
    Stop-RedisMonitor
    $script:MonitorLog = New-TemporaryFile
    $script:Monitor = Start-Process redis-cli -ArgumentList '-h', $script:RedisHost, '-p', $script:RedisPort, 'monitor' -RedirectStandardOutput $script:MonitorLog -PassThru
    Wait-RedisMonitor '^OK'
}
function Get-RedisCommands([Parameter(Mandatory)][int] $Index) {
    $mark = "commands-seen-$([guid]::NewGuid())"
    redis-cli -h $script:RedisHost -p $script:RedisPort ECHO $mark | Out-Null
    Wait-RedisMonitor ([regex]::Escape($mark))
    foreach ($line in Get-Content $script:MonitorLog) {
        if ($line -notmatch "^\d+\.\d+ \[$Index ") { continue }
        $words = @([regex]::Matches($line, '"((?:[^"\\]|\\.)*)"') | ForEach-Object { $_.Groups[1].Value })
        if ($words.Count) { , $words }
    }
    Stop-RedisMonitor
}
# NB keys of database $Index set or deleted since Reset-RedisStats (each key of a multi-key MSET
# or DEL counts): the module's own bookkeeping (upgrade lock, commit journal: tables
# df_upgrade_*) is not counted.
function Get-RedisWrites([Parameter(Mandatory)][int] $Index) {
    $n = 0
    foreach ($words in Get-RedisCommands $Index) {
        if ($words.Count -lt 2) { continue }
        $keys = switch ($words[0].ToUpperInvariant()) {
            'SET' { $words[1] }
            'MSET' { for ($i = 1; $i -lt $words.Count; $i += 2) { $words[$i] } }
            'DEL' { $words[1..($words.Count - 1)] }
        }
        $n += @($keys | Where-Object { $_ -match '^\{(?!df_upgrade_)' }).Count
    }
    $n
}
function Wait-RedisMonitor([string] $Pattern) {
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while (-not (Select-String -Path $script:MonitorLog -Pattern $Pattern -Quiet)) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "redis-cli monitor did not show '$Pattern' within 10 s." }
        Start-Sleep -Milliseconds 20
    }
}
function Stop-RedisMonitor {
    if ($script:Monitor -and -not $script:Monitor.HasExited) { $script:Monitor.Kill(); $script:Monitor.WaitForExit() }
    if ($script:Monitor) { Remove-Item $script:MonitorLog -ErrorAction SilentlyContinue }
    $script:Monitor = $null
}

# Invoke-DfMigration backs a database up before it writes: keep the tests' backups in the test
# drive rather than in the default folder (pass -BackupPath $null to test the default).
$backupDrive = $TestDrive
$PSDefaultParameterValues['Invoke-DfMigration:BackupPath'] = { Join-Path $backupDrive "backup-$([guid]::NewGuid()).jsonl.gz" }.GetNewClosure()

# Writes NB objects to Redis in Dragonflow's layout: @{ table; topic; id; value (hashtable) }.
function Add-RedisObjects([int] $Index, [object[]] $Objects) {
    $Objects | ForEach-Object {
        $json = ($_.value | ConvertTo-Json -Compress -Depth 10) -replace '\\', '\\\\' -replace '"', '\"'
        "SET `"{$($_.table).$($_.topic)}.$($_.id)`" `"$json`""
    } | redis-cli -h $script:RedisHost -p $script:RedisPort -n $Index | Out-Null
}

function New-Port([string] $Id, [string] $Topic, [string] $Owner = 'compute:nova') {
    @{ table = 'lport'; topic = $Topic; id = $Id; value = [ordered]@{ id = $Id; topic = $Topic; device_owner = $Owner; version = 1 } }
}

# A request to the test etcd's JSON gateway (DF_TEST_ETCD); the keys and values of $Body
# named key, range_end and value are given as text and sent base64-encoded.
# Endpoint: host:port of the etcd (the test etcd by default; a member of the test etcd cluster).
function Invoke-EtcdGateway([string] $Path, [hashtable] $Body, [string] $Endpoint = $env:DF_TEST_ETCD) {
    $sent = @{}
    foreach ($name in $Body.Keys) {
        $sent[$name] = if ($name -in 'key', 'range_end', 'value') { [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($Body[$name])) } else { $Body[$name] }
    }
    Invoke-RestMethod -NoProxy -Method Post -ContentType 'application/json' -Uri "http://$Endpoint/v3/$Path" -Body ($sent | ConvertTo-Json -Compress)
}

# Writes a .ps1 migration file.
function New-MigrationFile([string] $Folder, [string] $Name, [string] $Id, [string] $ProposedAt, [string] $Apply, [string] $Release = 'queens', [string] $Extra = '') {
    New-Item -ItemType Directory $Folder -Force | Out-Null
    $path = Join-Path $Folder $Name
    @"
@{
    Id          = '$Id'
    Release     = '$Release'
    Description = 'Test migration $Id'
    ProposedAt  = '$ProposedAt'
    $Extra
    Apply       = {
        param(`$NbApi)
        $Apply
    }
}
"@ | Set-Content $path
    $path
}

$script:FlagComputePorts = @'
foreach ($port in $NbApi.GetAll('lport')) {
            if ($port['device_owner'] -eq 'compute:nova') { $port['flag'] = $true }
            $NbApi.Update('lport', $port)
        }
'@

# Marks the shipped Dragonflow migrations applied, leaving the database's schema release
# unrecorded: the engine tests work on small objects that no release's schema describes.
function Set-ShippedMigrationsApplied([string] $Database) {
    Set-DfMigrationBaseline -Database $Database -Release queens -Confirm:$false | Out-Null
    if ($Database -like 'redis://*') { Invoke-RedisCli ([int]$Database.Split('/')[-1]) DEL '{schema_migration_log.}.baseline' | Out-Null }
    elseif ($Database -like 'etcd://*') { Invoke-EtcdGateway kv/deleterange @{ key = '/schema_migration_log/baseline' } | Out-Null }
    # The file's header counts the module's objects, the baseline among them: it goes too, and the file is read whole.
    else { @(Get-Content $Database) | Where-Object { $_ -notlike '*"id":"baseline"*' -and $_ -notlike '{"header":*' } | Set-Content $Database }
}
