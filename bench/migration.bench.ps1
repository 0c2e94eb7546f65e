<#
.SYNOPSIS
    The NB migration benchmark: 100,000 Dragonflow-like objects (ports, switches, routers) in
    the test Redis. Times, in one run: the raw I/O (redis-cli --pipe writing and reading the
    same keys), a C# migration touching every port, the same as a script migration through
    Invoke-DfMigration, and a run with nothing pending. Prints each time, its ratio to the raw
    I/O, and the C# run's peak memory against the data's size. The raw I/O, the C# migration
    and the run with nothing pending are the medians of -Runs runs.
#>
param([int] $Count = 100000, [int] $Db = 39, [int] $Runs = 3)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
$redisHost, $port = $env:DF_TEST_REDIS.Split(':')
$uri = "redis://$($env:DF_TEST_REDIS)/$Db"
$work = Join-Path $root 'out/bench'
New-Item -ItemType Directory $work -Force | Out-Null

dotnet build (Join-Path $PSScriptRoot 'DragonflowUpgrade.Bench') -c Release --nologo -v quiet -clp:ErrorsOnly | Out-Host
if ($LASTEXITCODE) { throw 'building the benchmark failed' }
$bench = Join-Path $PSScriptRoot 'DragonflowUpgrade.Bench/bin/Release/net10.0/DragonflowUpgrade.Bench.dll'

function Seconds([scriptblock] $Block) { (Measure-Command $Block).TotalSeconds }
function Pipe([string] $File) {
    $out = bash -c "redis-cli -h $redisHost -p $port -n $Db --pipe < '$File'"
    if ($LASTEXITCODE) { throw "redis-cli --pipe failed: $out" }
}
function Reset-Data { redis-cli -h $redisHost -p $port -n $Db FLUSHDB | Out-Null; Pipe (Join-Path $work 'set.resp') }
function Median([double[]] $Values) { ($Values | Sort-Object)[[int][math]::Floor($Values.Count / 2)] }
function Times([double[]] $Values) { ($Values | ForEach-Object { '{0:N2}' -f $_ }) -join ' ' }

$dataBytes = [long](dotnet $bench generate $work $Count)
# The raw I/O and the C# migration alternate, $Runs times, and each is the median of its runs:
# the machine's speed drifts by more than the difference being measured.
$rawWrites, $rawReads, $csharps, $peaks = @(), @(), @(), @()
foreach ($run in 1..$Runs) {
    redis-cli -h $redisHost -p $port -n $Db FLUSHDB | Out-Null
    $rawWrites += Seconds { Pipe (Join-Path $work 'set.resp') }
    $rawReads += Seconds { Pipe (Join-Path $work 'get.resp') }
    $seconds, $bytes = (dotnet $bench migrate $uri).Split(' ')
    $csharps += [double]$seconds
    $peaks += [long]$bytes
}
$raws = 0..($Runs - 1) | ForEach-Object { $rawWrites[$_] + $rawReads[$_] }
$rawWrite, $rawRead, $raw, $csharp = (Median $rawWrites), (Median $rawReads), (Median $raws), (Median $csharps)
$peak = ($peaks | Measure-Object -Maximum).Maximum
$nothing = Median (1..$Runs | ForEach-Object { [double](dotnet $bench plan $uri).Split(' ')[0] })

Reset-Data
$migrations = Join-Path $work 'migrations'
New-Item -ItemType Directory $migrations -Force | Out-Null
@'
@{
    Id = 'bench-flag-ports'; Release = 'bench'; Description = 'Flag every compute port'; ProposedAt = '2017-09-01T00:00:00Z'
    Apply = {
        param($NbApi)
        foreach ($port in $NbApi.GetAll('lport')) {
            $port['flag'] = $port['device_owner'] -eq 'compute:nova'
            $NbApi.Update('lport', $port)
        }
    }
}
'@ | Set-Content (Join-Path $migrations 'flag.ps1')
Import-Module (Join-Path $root 'DragonflowUpgrade.psd1') -Force
$script = Seconds { Invoke-DfMigration -Database $uri -MigrationPath $migrations -Confirm:$false | Out-Null }
$nothingCmdlet = Seconds { Invoke-DfMigration -Database $uri -MigrationPath $migrations -Confirm:$false | Out-Null }
redis-cli -h $redisHost -p $port -n $Db FLUSHDB | Out-Null

$mb = { param($b) '{0:N1} MB' -f ($b / 1MB) }
"{0,-46} {1,8}" -f 'objects', $Count
"{0,-46} {1,8}" -f 'data size', (& $mb $dataBytes)
"{0,-46} {1,8:N2} s" -f 'raw I/O: redis-cli --pipe write', $rawWrite
"{0,-46} {1,8:N2} s" -f 'raw I/O: redis-cli --pipe read', $rawRead
"{0,-46} {1,8:N2} s  (runs: {2})" -f 'raw I/O: write + read', $raw, (Times $raws)
"{0,-46} {1,8:N2} s  {2,5:N2} x raw I/O  (runs: {3})" -f 'C# migration touching every port', $csharp, ($csharp / $raw), (Times $csharps)
"{0,-46} {1,8:N2} s  {2,5:N2} x raw I/O" -f 'script migration, every port (cmdlet: lock, backup, journal)', $script, ($script / $raw)
"{0,-46} {1,8:N3} s" -f 'nothing pending (engine)', $nothing
"{0,-46} {1,8:N3} s" -f 'nothing pending (Invoke-DfMigration)', $nothingCmdlet
"{0,-46} {1,8}  {2,5:N2} x data size" -f 'C# migration peak memory (working set growth, largest)', (& $mb $peak), ($peak / $dataBytes)
