# Helpers of the Safety*.Tests.ps1 files: NB dumps read straight from Redis, database copies,
# seeding, and child pwsh processes that run a migration. Dot-source after TestSupport.ps1.

# Every NB object of a database as "key = value" lines in key order, read by a Lua script on
# the server. The module's own keys (df_upgrade_*) are left out; migration log rows count by
# key only, since they carry the time they were applied.
function Get-NbDump([int] $Index, [string] $Endpoint = $script:Endpoint) {
    $h, $p = $Endpoint.Split(':')
    $lua = "local keys = redis.call('KEYS', '*') table.sort(keys) local out = {} " +
        "for _, k in ipairs(keys) do " +
        "if string.sub(k, 1, 12) == '{df_upgrade_' then " +
        "elseif string.sub(k, 1, 22) == '{schema_migration_log.' then out[#out + 1] = k " +
        "else out[#out + 1] = k .. ' = ' .. redis.call('GET', k) end end return out"
    ,[string[]]@(redis-cli -h $h -p $p -n $Index EVAL $lua 0)
}

# The first few lines in which two dumps differ; nothing when they are equal.
function Compare-NbDump([string[]] $Actual, [string[]] $Expected) {
    @([Linq.Enumerable]::Except($Actual, $Expected) | Select-Object -First 3 | ForEach-Object { "unexpected: $_" }) +
    @([Linq.Enumerable]::Except($Expected, $Actual) | Select-Object -First 3 | ForEach-Object { "missing: $_" })
}

# Copies database $From to $To on the test Redis, keys, values and expiries (Redis 6.2+ COPY).
function Copy-RedisDatabase([int] $From, [int] $To) {
    Invoke-RedisCli $To FLUSHDB | Out-Null
    $lua = "local keys = redis.call('KEYS', '*') for _, k in ipairs(keys) do redis.call('COPY', k, k, 'DB', ARGV[1]) end return #keys"
    Invoke-RedisCli $From EVAL $lua 0 $To | Out-Null
}

# SET commands for $Ports ports spread over a switch per 100 ports, as redis-cli reads them.
function New-SeedCommands([int] $Ports) {
    $switches = [Math]::Ceiling($Ports / 100)
    $lines = [Collections.Generic.List[string]]::new($Ports + $switches)
    for ($s = 0; $s -lt $switches; $s++) {
        $lines.Add("SET {lswitch.t0}.s$s `"{\`"id\`": \`"s$s\`", \`"topic\`": \`"t0\`", \`"unique_key\`": $s, \`"version\`": 1}`"")
    }
    for ($i = 0; $i -lt $Ports; $i++) {
        $t = "t$($i % 7)"
        $lines.Add("SET {lport.$t}.p$i `"{\`"id\`": \`"p$i\`", \`"topic\`": \`"$t\`", \`"lswitch\`": \`"s$([Math]::Floor($i / 100))\`", \`"unique_key\`": $i, \`"version\`": 1}`"")
    }
    $lines
}

# A migration that rewrites every switch and port.
$script:BumpEveryObject = @'
foreach ($table in 'lswitch', 'lport') {
            foreach ($o in $NbApi.GetAll($table)) { $o['version'] = $o['version'] + 1; $NbApi.Update($table, $o) }
        }
'@

# The test-side store wrapper (tests/DragonflowUpgrade.Engine.Tests/SteppedStore.cs), compiled
# once per test file into an assembly that child processes load.
function Get-SteppedStoreAssembly {
    $dll = Join-Path $TestDrive 'SteppedStore.dll'
    if (-not (Test-Path $dll)) {
        $references = @([DragonflowUpgrade.Engine.Store.INbStore].Assembly.Location, 'netstandard', 'System.Collections', 'System.Runtime', 'System.Memory', 'System.Threading', 'System.Threading.Thread')
        Add-Type -Path "$PSScriptRoot/../DragonflowUpgrade.Engine.Tests/SteppedStore.cs" -ReferencedAssemblies $references -OutputAssembly $dll -OutputType Library -IgnoreWarnings
    }
    $dll
}

# Starts a child pwsh (the same executable as this one) that imports the module and runs
# Invoke-DfMigration. With -PauseMs, it runs the same migration (the guard, the run, the backup,
# the journaled commit) through the engine over the real store wrapped in a SteppedStore, which
# pauses that long after each write, so that a test can kill it or stop its server part way.
function Start-MigrationProcess([string] $Database, [string] $MigrationPath, [string] $BackupPath, [int] $PauseMs = 0, [string] $HoldFolder, [string] $TargetRelease) {
    $target = if ($TargetRelease) { "-TargetRelease '$TargetRelease'" } else { '' }
    if ($PauseMs -le 0 -and -not $HoldFolder) {
        return Start-ModuleProcess "Invoke-DfMigration -Database '$Database' -MigrationPath '$MigrationPath' -BackupPath '$BackupPath' $target -Confirm:`$false | Out-Null"
    }
    Start-ModuleProcess @"
# The shipped migrations' assembly, which the module loads only when a cmdlet first needs it.
Add-Type -Path (Join-Path (Split-Path ([DragonflowUpgrade.Engine.Store.INbStore].Assembly.Location)) 'DragonflowUpgrade.Dragonflow.dll')
`$store = [DragonflowUpgrade.Engine.Tests.SteppedStore]::new([DragonflowUpgrade.Engine.Store.NbStoreFactory]::Open('$Database'), -1, [TimeSpan]::FromMilliseconds($PauseMs), $(if ($HoldFolder) { "'$HoldFolder'" } else { '$null' }))
`$plan = `$null
try {
    `$migrations = [System.Collections.Generic.List[DragonflowUpgrade.Engine.Migrations.Migration]]::new([DragonflowUpgrade.Dragonflow.DragonflowReleases]::Migrations)
    `$migrations.AddRange([DragonflowUpgrade.PowerShell.Scripting.ScriptMigrations]::LoadFolders(`$PSCmdlet, [string[]]@('$MigrationPath')))
    `$catalog = [DragonflowUpgrade.Engine.Migrations.MigrationCatalog]::new(`$migrations, [DragonflowUpgrade.Dragonflow.DragonflowReleases]::All, [DragonflowUpgrade.Dragonflow.DragonflowReleases]::DefaultTarget)
    `$schemas = [Func[string, DragonflowUpgrade.Engine.Schema.SchemaManifest]] { param(`$release) [DragonflowUpgrade.Dragonflow.DragonflowReleases]::Schema(`$release) }
    `$migrator = [DragonflowUpgrade.Engine.Migrations.Migrator]::new(`$store, `$catalog, `$null, `$schemas)
    `$request = [DragonflowUpgrade.Engine.Run.MigrationRunRequest]@{ BackupPath = '$BackupPath' }   # every release, unless a target is given
    if ('$TargetRelease') { `$request.TargetRelease = '$TargetRelease' }
    `$options = [DragonflowUpgrade.Engine.Run.GuardOptions]::new('Invoke-DfMigration', `$false)
    `$plan = [DragonflowUpgrade.Engine.Run.NbRun]::PlanMigration(`$store, `$migrator, `$request, `$options, `$null, `$null)
    `$plan.Execute(`$null) | Out-Null
}
finally { if (`$plan) { `$plan.Dispose() }; `$store.Dispose() }
"@ -Stepped
}

# Starts a child pwsh that runs what Undo-DfMigration runs (the guard, the plan, the restore under
# the "undoing" marker) through the engine over the real store wrapped in a SteppedStore, which
# pauses -PauseMs after each write, so that a test can kill the undo part way.
function Start-UndoProcess([string] $Database, [int] $PauseMs) {
    Start-ModuleProcess @"
`$store = [DragonflowUpgrade.Engine.Tests.SteppedStore]::new([DragonflowUpgrade.Engine.Store.NbStoreFactory]::Open('$Database'), -1, [TimeSpan]::FromMilliseconds($PauseMs))
`$plan = `$null
try {
    `$plan = [DragonflowUpgrade.Engine.Run.NbRun]::PlanUndo(`$store, [DragonflowUpgrade.Engine.Run.GuardOptions]::new('Undo-DfMigration', `$false), `$null)
    `$plan.Execute(`$null)
}
finally { if (`$plan) { `$plan.Dispose() }; `$store.Dispose() }
"@ -Stepped
}

# Starts a child pwsh (the same executable as this one) that imports the module (and, -Stepped,
# the SteppedStore assembly) and runs $Body. An error ends it with exit code 3 and its error id
# and message on its output (OutputFile): for an engine exception, its name as the cmdlet's error
# id names it (CommitInterrupted).
function Start-ModuleProcess([string] $Body, [switch] $Stepped) {
    $dir = Join-Path $TestDrive "child-$([guid]::NewGuid())"
    New-Item -ItemType Directory $dir | Out-Null
    $script = Join-Path $dir 'run.ps1'
    $load = if ($Stepped) { "Add-Type -Path '$(Get-SteppedStoreAssembly)'" } else { '' }
    @"
`$ErrorActionPreference = 'Stop'
Import-Module '$PSScriptRoot/../../DragonflowUpgrade.psd1'
$load
function Invoke-Child {
    [CmdletBinding()]
    param()
$Body
}
try { Invoke-Child }
catch {
    `$e = `$_.Exception
    while (`$e -is [Management.Automation.MethodInvocationException] -and `$e.InnerException) { `$e = `$e.InnerException }
    `$id = if (`$e -is [DragonflowUpgrade.Engine.Errors.DfException]) { "`$(`$e.GetType().Name -replace 'Exception$'),Invoke-Child" } else { `$_.FullyQualifiedErrorId }
    "`${id}: `$(`$e.Message)"; exit 3
}
"@ | Set-Content $script
    $exe = (Get-Process -Id $PID).Path
    $arguments = @('-NoProfile', '-NonInteractive', '-File', $script)
    if ((Split-Path $exe -Leaf) -like 'dotnet*') { $arguments = @(Join-Path $PSHOME 'pwsh.dll') + $arguments }
    $p = Start-Process $exe -ArgumentList $arguments -PassThru -RedirectStandardOutput "$dir/out.txt" -RedirectStandardError "$dir/err.txt"
    $p | Add-Member -NotePropertyName OutputFile -NotePropertyValue "$dir/out.txt" -PassThru
}

# Waits until a key exists in a database (polling redis-cli), or fails after $Seconds.
function Wait-RedisKey([int] $Index, [string] $Key, [string] $Endpoint = $script:Endpoint, [double] $Seconds = 60, $Process) {
    $h, $p = $Endpoint.Split(':')
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ((redis-cli -h $h -p $p -n $Index EXISTS $Key) -ne '1') {
        if ($Process -and $Process.HasExited) { throw "The child process ended (exit code $($Process.ExitCode)) before $Key appeared: $(Get-Content $Process.OutputFile -Raw)" }
        if ([DateTime]::UtcNow -gt $deadline) { throw "$Key did not appear in database $Index within $Seconds s." }
        Start-Sleep -Milliseconds 25
    }
}

# How many objects of a database the bump migration has rewritten (version 2), counted on the server.
function Get-RewrittenCount([int] $Index) {
    $lua = "local n = 0 for _, k in ipairs(redis.call('KEYS', '{l*')) do " +
        "local v = redis.call('GET', k) if v and string.find(v, '`"version`": 2', 1, true) then n = n + 1 end end return n"
    [int](redis-cli -h $script:RedisHost -p $script:RedisPort -n $Index EVAL $lua 0)
}

# Waits until at least $Count objects are rewritten, or fails after $Seconds.
function Wait-Rewritten([int] $Index, [int] $Count, [double] $Seconds = 120, $Process) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ((Get-RewrittenCount $Index) -lt $Count) {
        if ($Process -and $Process.HasExited) { throw "The child process ended (exit code $($Process.ExitCode)) before $Count objects were rewritten: $(Get-Content $Process.OutputFile -Raw)" }
        if ([DateTime]::UtcNow -gt $deadline) { throw "$Count objects were not rewritten in database $Index within $Seconds s." }
        Start-Sleep -Milliseconds 10
    }
}

# Waits until at most $Count objects are still rewritten (an undo has written the others back), or fails after $Seconds.
function Wait-Restored([int] $Index, [int] $Count, [double] $Seconds = 120, $Process) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ((Get-RewrittenCount $Index) -gt $Count) {
        if ($Process -and $Process.HasExited) { throw "The child process ended (exit code $($Process.ExitCode)) before the undo wrote objects back: $(Get-Content $Process.OutputFile -Raw)" }
        if ([DateTime]::UtcNow -gt $deadline) { throw "Objects were not written back in database $Index within $Seconds s." }
        Start-Sleep -Milliseconds 10
    }
}

# Lets a child started with -HoldFolder go on one write at a time, and kills it, held, after the
# first write at which $Reached is true. Returns how many writes went through.
function Stop-AtWrite($Process, [string] $HoldFolder, [scriptblock] $Reached, [double] $Seconds = 300) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    for ($n = 1; ; $n++) {
        while (-not (Test-Path (Join-Path $HoldFolder "held-$n"))) {
            if ($Process.HasExited) { throw "The child process ended (exit code $($Process.ExitCode)) after $($n - 1) writes, before its stage was reached: $(Get-Content $Process.OutputFile -Raw)" }
            if ([DateTime]::UtcNow -gt $deadline) { throw "The child process did not reach its stage within $Seconds s ($($n - 1) writes)." }
            Start-Sleep -Milliseconds 10
        }
        if (& $Reached) { Stop-ProcessHard $Process; return $n }
        New-Item -ItemType File (Join-Path $HoldFolder "go-$n") | Out-Null
    }
}

function Stop-ProcessHard($Process) {
    kill -9 $Process.Id
    $Process.WaitForExit()
}

$script:CommitMarker = '{df_upgrade_commit.}.in-progress'
$script:LockKey = '{df_upgrade_lock.}.lock'
