<#
.SYNOPSIS
    The operator's path on a realistic NB database: the Pike sample (tests/fixtures/pike-nb.jsonl)
    copied, each copy with its own ids and tenants and references that follow them, to -Size
    objects. Times, against the raw floor measured in the same run (every key SET, then every key
    GET, pipelined over one socket):
      Redis at each size: Invoke-DfMigration -TargetRelease queens (lock, checks, backup, journal)
      in this session and as a new pwsh process, a run with nothing pending, -WhatIf,
      Get-DfMigration, Get-DfNbTable, Backup-DfNbDatabase and Restore-DfNbDatabase; and
      Invoke-DfMigration -TargetRelease master on the database upgraded to queens (untimed), where
      every key is written again under master's key layout: the worst case for the commit;
      the Redis Cluster, etcd, the three-member etcd cluster and the file store (at the smallest size, at most
      100,000): the upgrade in this session, against the store's own floor (its batched write of
      every object, the load).
    Each time is the median of -Runs runs. Prints the ratios to the floor, the new process's peak
    memory (VmHWM) against the data's size, and the phases of the upgrade, from the times at
    which its verbose messages arrive.
#>
param([int[]] $Size = @(100000), [int] $Runs = 3, [int] $Db = 39, [switch] $RedisOnly, [string] $Work)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
$work = if ($Work) { $Work } else { Join-Path $root 'out/bench' }
$redis = "redis://$($env:DF_TEST_REDIS)/$Db"
$redisHost, $redisPort = $env:DF_TEST_REDIS.Split(':')
New-Item -ItemType Directory $work -Force | Out-Null

dotnet build (Join-Path $PSScriptRoot 'DragonflowUpgrade.Bench') -c Release --nologo -v quiet -clp:ErrorsOnly | Out-Host
if ($LASTEXITCODE) { throw 'building the benchmark failed' }
$bench = Join-Path $PSScriptRoot 'DragonflowUpgrade.Bench/bin/Release/net10.0/DragonflowUpgrade.Bench.dll'
$manifest = Join-Path $root 'DragonflowUpgrade.psd1'
Import-Module $manifest -Force
$quiet = @{ Confirm = $false; WarningAction = 'SilentlyContinue' }

function Bench {
    $out = dotnet $bench @args
    if ($LASTEXITCODE) { throw "the benchmark's '$($args[0])' failed" }
    $out
}
function Seconds([scriptblock] $Block) { (Measure-Command $Block).TotalSeconds }
function Median([double[]] $Values) { ($Values | Sort-Object)[[int][math]::Floor($Values.Count / 2)] }
function Flush { redis-cli -h $redisHost -p $redisPort -n $Db FLUSHDB | Out-Null }
function Load-Pike {
    Flush
    [double](Bench floor $env:DF_TEST_REDIS $Db (Join-Path $work 'set.resp'))
}
function Baseline([string] $Database) { Set-DfMigrationBaseline -Database $Database -Release pike @quiet | Out-Null }
function Fresh-Folder([string] $Name) {
    $path = Join-Path $work $Name
    if (Test-Path $path) { Remove-Item $path -Recurse -Force }
    New-Item -ItemType Directory $path | Out-Null
    $path
}

# The upgrade in this session; each verbose message's arrival time marks the end of a phase.
function Upgrade([string] $Database, [string] $Backups, [string] $Target = 'queens') {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $last = 0.0
    $phases = [ordered]@{}
    Invoke-DfMigration -Database $Database -TargetRelease $Target -BackupPath $Backups -Verbose @quiet 4>&1 | ForEach-Object {
        if ($_ -is [System.Management.Automation.VerboseRecord]) {
            $now = $clock.Elapsed.TotalSeconds
            $phase = ($_.Message -replace '\d+', 'N' -replace ' in N ms', '')
            if ($phase.Length -gt 70) { $phase = $phase.Substring(0, 67) + '...' }
            $phases[$phase] = $now - $last
            $last = $now
        }
    }
    $total = $clock.Elapsed.TotalSeconds
    $phases['(the rest, after the last message)'] = $total - $last
    [pscustomobject]@{ Seconds = $total; Phases = $phases }
}

# The upgrade as an operator starts it from a shell: a new pwsh, the module imported, one run;
# prints its peak resident memory (kB) last.
function Upgrade-NewProcess([string] $Database, [string] $Backups) {
    $script = "Import-Module '$manifest'; Invoke-DfMigration -Database '$Database' -TargetRelease queens -BackupPath '$Backups' -Confirm:`$false -WarningAction SilentlyContinue | Out-Null; " +
              "(Get-Content /proc/self/status | Where-Object { `$_ -like 'VmHWM:*' }) -replace '\D', ''"
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $peak = dotnet pwsh -NoProfile -NonInteractive -Command $script
    if ($LASTEXITCODE) { throw "the upgrade in a new process failed: $peak" }
    [pscustomobject]@{ Seconds = $clock.Elapsed.TotalSeconds; PeakBytes = 1024 * [long]($peak | Select-Object -Last 1) }
}

$rows = [System.Collections.Generic.List[object]]::new()
function Row([string] $What, [double[]] $Times, [double] $Floor, [string] $Note = '') {
    $m = Median $Times
    $rows.Add([pscustomobject]@{
        What = $What; Median = '{0,8:N3} s' -f $m
        'x floor' = if ($Floor -gt 0) { '{0:N2}' -f ($m / $Floor) } else { '' }
        Runs = ($Times | ForEach-Object { '{0:N2}' -f $_ }) -join ' '; Note = $Note
    })
}

foreach ($n in $Size) {
    $objects, $bytes = (Bench generate (Join-Path $root 'tests/fixtures/pike-nb.jsonl') $n $work).Split(' ')
    $bytes = [long]$bytes
    $t = @{}
    foreach ($k in 'write', 'read', 'floor', 'warm', 'new', 'none', 'whatif', 'get', 'tables', 'backup', 'restore', 'master') { $t[$k] = [System.Collections.Generic.List[double]]::new() }
    $peaks = @(); $phaseRuns = @(); $masterRuns = @()
    foreach ($run in 1..$Runs) {
        $write = Load-Pike
        $read = [double](Bench floor $env:DF_TEST_REDIS $Db (Join-Path $work 'get.resp'))
        $t.write.Add($write); $t.read.Add($read); $t.floor.Add($write + $read)
        Baseline $redis
        $t.whatif.Add((Seconds { Invoke-DfMigration -Database $redis -TargetRelease queens -WhatIf @quiet | Out-Null }))
        $t.get.Add((Seconds { Get-DfMigration -Database $redis | Out-Null }))
        $t.tables.Add((Seconds { Get-DfNbTable -Database $redis | Out-Null }))
        $backups = Fresh-Folder 'backups'
        $backup = Join-Path $backups 'before.jsonl.gz'
        $t.backup.Add((Seconds { Backup-DfNbDatabase -Database $redis -Path $backup | Out-Null }))
        $up = Upgrade $redis $backups
        $t.warm.Add($up.Seconds); $phaseRuns += $up
        $t.none.Add((Seconds { Invoke-DfMigration -Database $redis -TargetRelease queens @quiet | Out-Null }))
        $t.restore.Add((Seconds { Restore-DfNbDatabase -Database $redis -Path $backup @quiet | Out-Null }))
        Load-Pike | Out-Null
        Baseline $redis
        $new = Upgrade-NewProcess $redis (Fresh-Folder 'backups')
        $t.new.Add($new.Seconds); $peaks += $new.PeakBytes
        # queens -> master: the database upgraded to queens first (untimed); every key changes.
        Load-Pike | Out-Null
        Baseline $redis
        Invoke-DfMigration -Database $redis -TargetRelease queens -BackupPath (Fresh-Folder 'backups') @quiet | Out-Null
        $master = Upgrade $redis (Fresh-Folder 'backups') master
        $t.master.Add($master.Seconds); $masterRuns += $master
    }
    $floor = Median $t.floor
    $rows.Clear()
    Row 'raw floor: pipelined SET of every key' $t.write 0
    Row 'raw floor: pipelined GET of every key' $t.read 0
    Row 'raw floor: write + read' $t.floor $floor
    Row 'Invoke-DfMigration -TargetRelease queens, warm' $t.warm $floor 'target <= 2'
    Row 'the same as a new pwsh process' $t.new $floor 'target <= 2.5'
    Row 'Invoke-DfMigration, nothing pending, warm' $t.none $floor 'target < 0.2 s'
    Row 'Invoke-DfMigration -WhatIf' $t.whatif $floor 'target <= 1.5'
    Row 'Get-DfMigration' $t.get $floor
    Row 'Get-DfNbTable' $t.tables $floor
    Row 'Backup-DfNbDatabase' $t.backup $floor
    Row 'Restore-DfNbDatabase' $t.restore $floor
    Row 'Invoke-DfMigration -TargetRelease master after queens, warm' $t.master $floor 'every key rewritten'
    Write-Host ("Redis, {0:N0} objects, {1:N1} MB of values" -f [long]$objects, ($bytes / 1MB))
    $rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    $peak = ($peaks | Measure-Object -Maximum).Maximum
    Write-Host ("peak memory of the new process (VmHWM, largest of {0}): {1:N0} MB = {2:N2} x the data (target <= 2)" -f $Runs, ($peak / 1MB), ($peak / $bytes))
    foreach ($upgrade in @(@{ Name = 'the warm upgrade'; Runs = $phaseRuns }, @{ Name = 'queens -> master'; Runs = $masterRuns })) {
        Write-Host "phases of $($upgrade.Name) (median seconds; each ends with the message named):"
        foreach ($phase in $upgrade.Runs[0].Phases.Keys) {
            $times = @($upgrade.Runs | ForEach-Object { $_.Phases[$phase] } | Where-Object { $_ -ne $null })
            Write-Host ("  {0,8:N3} s  {1}" -f (Median $times), $phase)
        }
    }
    Write-Host ''
}
Flush

if ($RedisOnly) { return }
# The other stores: the same data (the smallest size, at most 100,000), copied from Redis by the stores' own writes.
$n = [math]::Min(100000, ($Size | Measure-Object -Minimum).Minimum)
Bench generate (Join-Path $root 'tests/fixtures/pike-nb.jsonl') $n $work | Out-Null
$etcd = "etcd://$($env:DF_TEST_ETCD)"
$file = Join-Path $work 'nb.jsonl'
$rows.Clear()
# The Redis Cluster (three masters, DF_TEST_REDIS_CLUSTER) and the etcd cluster (three members,
# DF_TEST_ETCD_CLUSTER) beside the single etcd.
$stores = @(if ($env:DF_TEST_REDIS_CLUSTER) { @{ Name = 'Redis Cluster'; Database = $env:DF_TEST_REDIS_CLUSTER } }) + @(@{ Name = 'etcd'; Database = $etcd }) +
    @(if ($env:DF_TEST_ETCD_CLUSTER) { @{ Name = 'etcd cluster'; Database = $env:DF_TEST_ETCD_CLUSTER } }) + @(@{ Name = 'file store'; Database = $file })
foreach ($store in $stores) {
    $loads = @(); $ups = @(); $nones = @()
    foreach ($run in 1..$Runs) {
        Load-Pike | Out-Null
        if ($store.Database -ne $file) { Bench clear $store.Database | Out-Null }
        elseif (Test-Path $file) { Remove-Item $file }
        $loads += Seconds { Bench copy $redis $store.Database | Out-Null }
        Baseline $store.Database
        $ups += (Upgrade $store.Database (Fresh-Folder 'backups')).Seconds
        $nones += Seconds { Invoke-DfMigration -Database $store.Database -TargetRelease queens @quiet | Out-Null }
    }
    # The store's floor: its own batched write of every object (the load), timed in the same run.
    $storeFloor = Median $loads
    Row "$($store.Name): loading $n objects (the store's batched write; its floor)" $loads $storeFloor
    Row "$($store.Name): Invoke-DfMigration -TargetRelease queens, warm" $ups $storeFloor
    Row "$($store.Name): nothing pending, warm" $nones $storeFloor
}
Flush
Write-Host "The Redis Cluster, etcd, the etcd cluster and the file store, $n objects (x floor: to the store's own load)"
$rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
