# Helpers of the Upgrade*.Tests.ps1 files: a test cloud whose NB database holds the Pike
# sample with its control plane running the pike release, and what to compare before and after
# an upgrade. Dot-source after TestSupport.ps1, SafetySupport.ps1, TestCloud.ps1, NeutronSupport.ps1
# and ConfigurationSupport.ps1.

# A test cloud of $NodeCount nodes: the Pike sample (baselined at pike) and a chassis per node in its Redis database,
# every service started at release pike and heartbeating, each node's dragonflow.ini the Pike fixture, and
# (unless -WithoutNeutron) Neutron's database the Pike fixture in the test MariaDB, its migration failing
# while the file <cloud>/fail-migration exists.
function New-PikeCloud([int] $RedisDb, [int] $NodeCount = 2, [switch] $WithDownNode, [switch] $WithoutNeutron) {
    $neutron = $null
    $failFile = Join-Path $env:DF_TEST_SSH_DIR "runs/neutron-fail-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    if (-not $WithoutNeutron) {
        Reset-TestNeutronDatabase
        $neutron = Get-TestNeutronCommands $failFile
    }
    $cloud = New-TestCloud -RedisDb $RedisDb -NodeCount $NodeCount -WithDownNode:$WithDownNode -ConfigFiles -NeutronDatabase $neutron
    foreach ($node in Get-DfNode $cloud.Inventory | Where-Object Name -NE 'down1') {
        New-Item -ItemType Directory (Split-Path $node.ConfigFiles[0]) -Force | Out-Null
        Copy-Item $script:PikeIni $node.ConfigFiles[0]
    }
    $cloud | Add-Member -NotePropertyName NeutronFail -NotePropertyValue $(if ($neutron) { $failFile })
    Restore-DfNbDatabase -Database $cloud.Database -Path (Get-PikeBackup) -Force -Confirm:$false | Out-Null
    # The chassis the test nodes' services report from (their service rows refer to them).
    Add-RedisObjects $RedisDb @(Get-DfNode $cloud.Inventory | ForEach-Object {
        @{ table = 'chassis'; topic = ''; id = $_.Name; value = [ordered]@{ id = $_.Name; ip = $_.Address; tunnel_types = @('geneve') } } })
    $up = Get-DfNode $cloud.Inventory | Where-Object Name -NE 'down1'
    $up | Start-DfControlPlane -Database $cloud.Database -KnownHostsPath $cloud.KnownHosts -HeartbeatTimeout 60 | Out-Null
    $cloud | Add-Member -NotePropertyName Backups -NotePropertyValue (Join-Path $cloud.Dir 'backups') -PassThru
}

# The Pike cloud of Redis database $RedisDb kept in $Shared (a hashtable of the test file) from test
# to test: used again while it is pictured exactly as when it was made (a test that put it back) and
# holds the same module keys (no lock, journal or run record left), its folder emptied of what tests
# added, its event log cleared and its Neutron fail and hold files (which live outside its folder)
# removed; made anew otherwise. Returns the cloud and its picture.
# Remove-SharedPikeCloud removes them all.
function Get-SharedPikeCloud([hashtable] $Shared, [int] $RedisDb) {
    $kept = $Shared[$RedisDb]
    $moduleKeys = { "$(Invoke-RedisCli $RedisDb --scan --pattern '{df_upgrade_*' | Sort-Object)" }
    if ($kept -and (& $moduleKeys) -eq $kept.Keys -and -not (Compare-CloudPicture $kept.Before (Get-CloudPicture $kept.Cloud))) {
        Get-ChildItem $kept.Cloud.Dir -Force | Where-Object Name -NotIn $kept.Entries | Remove-Item -Recurse -Force
        Remove-Item (Join-Path $kept.Cloud.ServiceDir 'events.log'), (Join-Path $kept.Cloud.ServiceDir 'start.*') -Force -ErrorAction SilentlyContinue
        Remove-Item (Join-Path $kept.Cloud.ServiceDir '*/*.refuse-*') -Force -ErrorAction SilentlyContinue
        if ($kept.Cloud.NeutronFail) { Remove-Item $kept.Cloud.NeutronFail, "$($kept.Cloud.NeutronFail).hold*" -Force -ErrorAction SilentlyContinue }
        return $kept
    }
    if ($kept) { Remove-TestCloud $kept.Cloud }
    $cloud = New-PikeCloud -RedisDb $RedisDb
    $Shared[$RedisDb] = [pscustomobject]@{ Cloud = $cloud; Before = Get-CloudPicture $cloud; Entries = @(Get-ChildItem $cloud.Dir -Force).Name; Keys = & $moduleKeys }
    $Shared[$RedisDb]
}

function Remove-SharedPikeCloud([hashtable] $Shared) {
    foreach ($kept in @($Shared.Values)) { Remove-TestCloud $kept.Cloud }
    $Shared.Clear()
}

# The Pike sample baselined at pike, as a backup: made once per test file, restored into each cloud.
$script:PikeBackup = $null
function Get-PikeBackup {
    if ($script:PikeBackup -and (Test-Path $script:PikeBackup)) { return $script:PikeBackup }
    $dir = Join-Path $env:DF_TEST_SSH_DIR "runs/pike-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    New-Item -ItemType Directory $dir -Force | Out-Null
    $file = Join-Path $dir 'pike.jsonl'
    Copy-Item "$PSScriptRoot/../fixtures/pike-nb.jsonl" $file
    Set-DfMigrationBaseline -Database $file -Release pike -Confirm:$false | Out-Null
    Backup-DfNbDatabase -Database $file -Path "$file.gz" | Out-Null
    $script:PikeBackup = "$file.gz"
    $script:PikeBackup
}

# The parameters of Invoke-DfUpgrade for a cloud: pike → queens, the release file switched by the update and revert commands.
function Get-UpgradeParameters($Cloud) {
    @{
        Inventory       = $Cloud.Inventory
        Database        = $Cloud.Database
        TargetRelease   = 'queens'
        BackupPath      = $Cloud.Backups
        KnownHostsPath  = $Cloud.KnownHosts
        ServiceDownTime = 2
        HeartbeatTimeout = 60
        UpdateCommand   = Get-TestReleaseCommand $Cloud queens
        RevertCommand   = Get-TestReleaseCommand $Cloud pike
        # A release after Queens that renames [df] nb_db_class, which the Pike file sets: the upgrade changes every node's file.
        OptionManifest  = New-RenamingManifest (Join-Path $Cloud.Dir 'next-options.json')
        NeutronCredential = Get-TestNeutronCredential
        Confirm         = $false
    }
}

# The NB content that an upgrade must keep or change: every object but the heartbeat rows,
# which a running control plane rewrites every half second.
function Get-CloudNbDump($Cloud) {
    $dump = Get-NbDump $Cloud.RedisDb # one array: enumerate its lines
    $dump | Where-Object { $_ -notmatch '^\{(service|listener|publisher)\.' }
}

# The test nodes' service rows whose heartbeat is younger than $Seconds: Chassis, Binary.
function Get-FreshServiceRow($Cloud, [double] $Seconds = 5) {
    $now = Get-EpochNow
    foreach ($key in Invoke-RedisCli $Cloud.RedisDb --scan --pattern '{service.}.*') {
        $row = Invoke-RedisCli $Cloud.RedisDb GET $key | ConvertFrom-Json
        if ($row.chassis -like 'node*' -and $row.last_seen_up -and $now - $row.last_seen_up -lt $Seconds) {
            [pscustomobject]@{ Chassis = $row.chassis; Binary = $row.binary }
        }
    }
}

# What the cloud looks like from outside: NB content, the release each live service runs, each node's
# dragonflow.ini (as base64), Neutron's database (mysqldump --skip-dump-date).
function Get-CloudPicture($Cloud) {
    [pscustomobject]@{
        Nb       = @(Get-CloudNbDump $Cloud)
        Services = @(Get-TestRelease $Cloud | Sort-Object Node, Service | ForEach-Object { "$($_.Node)/$($_.Service)=$($_.Release)" })
        Config   = @(Get-ChildItem $Cloud.ServiceDir -Recurse -Filter 'dragonflow.ini' | Sort-Object FullName |
            ForEach-Object { "$($_.Directory.Name) $([Convert]::ToBase64String([IO.File]::ReadAllBytes($_.FullName)))" })
        Neutron  = if ($Cloud.NeutronFail) { Get-TestNeutronDump }
    }
}

# Says how the cloud's NB content differs from the Queens fixture (heartbeat rows, the migration
# log and the test nodes' own chassis aside; values compared as JSON, not by their spacing);
# nothing when it is the same. Uses Redis database $ScratchDb to read the fixture.
function Compare-QueensNb($Cloud, [int] $ScratchDb = 59) {
    $file = Join-Path $Cloud.Dir 'queens.jsonl'
    $gz = Join-Path $Cloud.Dir 'queens.jsonl.gz'
    Copy-Item "$PSScriptRoot/../fixtures/queens-expected.jsonl" $file -Force
    Remove-Item $gz -ErrorAction SilentlyContinue
    Backup-DfNbDatabase -Database $file -Path $gz | Out-Null
    Invoke-RedisCli $ScratchDb FLUSHDB | Out-Null
    Restore-DfNbDatabase -Database "redis://$Endpoint/$ScratchDb" -Path $gz -Force -Confirm:$false | Out-Null
    $notLog = { $_ -notmatch '^\{(service|listener|publisher|schema_migration_log)\.' -and $_ -notmatch '^\{chassis\.\}\.node\d' }
    $dump = Get-NbDump $ScratchDb # one array: enumerate its lines
    $expected = @($dump | Where-Object $notLog)
    Invoke-RedisCli $ScratchDb FLUSHDB | Out-Null
    $dump = Get-NbDump $Cloud.RedisDb
    $actual = @($dump | Where-Object $notLog)
    $canonical = { $key, $value = $_ -split ' = ', 2; "$key = $(ConvertTo-CanonicalJson ($value | ConvertFrom-Json -AsHashtable))" }
    Compare-NbDump @($actual | ForEach-Object $canonical) @($expected | ForEach-Object $canonical)
    if ($actual.Count -ne $expected.Count -or $actual.Count -lt 50) { "NB objects: $($actual.Count), expected $($expected.Count)" }
}

# Kills the upgrade process started with $Parameters once it is inside $Step: MigrateNeutron and
# MigrateNb hold at a gate (set up here) until killed; Configure is killed as soon as the state file
# says it runs. Returns once the process is dead and the gate open.
function Stop-UpgradeInside($Cloud, [hashtable] $Parameters, [string] $Step) {
    $gate = $null
    switch ($Step) {
        'MigrateNeutron' { $gate = "$($Cloud.NeutronFail).hold" }
        'MigrateNb' {
            $gate = Join-Path $Cloud.Dir 'nb.hold'
            # A migration that holds while the gate is there, once the update command armed it (readiness runs it on the snapshot before).
            $Parameters.MigrationPath = Join-Path $Cloud.Dir 'migrations'
            New-MigrationFile $Parameters.MigrationPath 'gate.ps1' 'gate' '2017-12-01T00:00:00Z' `
                "if (Test-Path '$($Cloud.Dir)/armed') { New-Item '$gate.reached' -Force | Out-Null; while (Test-Path '$gate') { Start-Sleep -Milliseconds 100 } }" | Out-Null
            $Parameters.UpdateCommand = "touch '$($Cloud.Dir)/armed'; $($Parameters.UpdateCommand)"
        }
    }
    if ($gate) { New-Item $gate | Out-Null }
    $child = Start-UpgradeProcess $Parameters $Cloud.Dir
    try {
        if ($gate) { Wait-Path "$gate.reached" -Process $child }
        else {
            $state = Join-Path $Cloud.Backups 'df-upgrade-state.json'
            $deadline = [DateTime]::UtcNow.AddSeconds(300)
            while (-not ((Test-Path $state) -and ((Get-Content $state -Raw -ErrorAction SilentlyContinue | ConvertFrom-Json -ErrorAction SilentlyContinue).steps | Where-Object { $_.name -eq $Step -and $_.state -eq 'Running' }))) {
                if ($child.HasExited) { throw "The upgrade process ended before step $Step ran." }
                if ([DateTime]::UtcNow -gt $deadline) { throw "Step $Step did not start within 300 s." }
                Start-Sleep -Milliseconds 20
            }
        }
    }
    finally { Stop-ProcessHard $child }
    if ($gate) { Remove-Item $gate }
    Wait-LeftCommand $Cloud
}

# Returns once the commands a killed upgrade left running on the nodes have ended: no process but a
# test service's daemon names the cloud's folder, no MariaDB client of this part's server runs, and
# no neutron-db-manage stand-in runs against that server.
function Wait-LeftCommand($Cloud, [double] $Seconds = 60) {
    $migrate = Get-TestNeutronMigrate
    $pattern = "$([regex]::Escape($Cloud.Dir))|-P $(($env:DF_TEST_MARIADB -split ':')[1]) |$([regex]::Escape($migrate))"
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ($left = @(pgrep -af -- $pattern | Where-Object { $_ -notmatch 'df-test-service\.sh run ' -and (-not $_.Contains($migrate) -or (Test-ThisPartsMigrate $_)) })) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "Commands left on the nodes still run after $Seconds s: $($left -join '; ')" }
        Start-Sleep -Milliseconds 100
    }
}

# Whether a process (a pgrep -af line) naming the stand-in runs against this test part's MariaDB:
# other parts run it too, and only the node's shell names the server on its command line; the
# stand-in it starts has it in its environment.
function Test-ThisPartsMigrate([string] $Line) {
    $mariadb = "DF_TEST_MARIADB=$env:DF_TEST_MARIADB"
    if ($Line.Contains("$mariadb ")) { return $true }
    # A process that ended since pgrep listed it has no environment to read.
    try { ([IO.File]::ReadAllText("/proc/$(($Line -split ' ')[0])/environ") -split "`0") -contains $mariadb }
    catch [IO.IOException] { $false }
}

# Says how the cloud differs from a picture taken before; nothing when it is the same.
function Compare-CloudPicture($Before, $After) {
    if ($d = Compare-NbDump $After.Nb $Before.Nb) { "NB content: $d" }
    if ($After.Nb.Count -ne $Before.Nb.Count) { "NB objects: $($After.Nb.Count), before $($Before.Nb.Count)" }
    if ("$($After.Services)" -ne "$($Before.Services)") { "services: $($After.Services), before $($Before.Services)" }
    if ("$($After.Config)" -cne "$($Before.Config)") { 'a dragonflow.ini differs' }
    if ($After.Neutron -cne $Before.Neutron) { "Neutron's database differs" }
}

# Runs a command that may end in a terminating error; keeps the objects it wrote before.
function Invoke-Capturing([scriptblock] $Command) {
    $output = [System.Collections.Generic.List[object]]::new()
    $thrown = $null
    try { & $Command 2>$null | ForEach-Object { $output.Add($_) } }
    catch { $thrown = $_ }
    [pscustomobject]@{ Output = $output; Thrown = $thrown }
}

# Runs Invoke-DfUpgrade in a child pwsh with $Parameters (a hashtable of strings and numbers), to be killed.
function Start-UpgradeProcess([hashtable] $Parameters, [string] $Dir) {
    $script = Join-Path $Dir "upgrade-$([guid]::NewGuid().ToString('N').Substring(0, 6)).ps1"
    $splat = ($Parameters.GetEnumerator() | Where-Object Key -NotIn 'Confirm', 'NeutronCredential' | ForEach-Object { "$($_.Key) = '$("$($_.Value)".Replace("'", "''"))'" }) -join "; "
    @"
`$ErrorActionPreference = 'Stop'
Import-Module '$PSScriptRoot/../../DragonflowUpgrade.psd1'
`$p = @{ $splat }
if (`$$($Parameters.ContainsKey('NeutronCredential'))) { . '$PSScriptRoot/NeutronSupport.ps1'; `$p.NeutronCredential = Get-TestNeutronCredential }
Invoke-DfUpgrade @p -Confirm:`$false | Out-Null
"@ | Set-Content $script
    $exe = (Get-Process -Id $PID).Path
    $arguments = @('-NoProfile', '-NonInteractive', '-File', $script)
    if ((Split-Path $exe -Leaf) -like 'dotnet*') { $arguments = @(Join-Path $PSHOME 'pwsh.dll') + $arguments }
    Start-Process $exe -ArgumentList $arguments -PassThru -RedirectStandardOutput "$script.out" -RedirectStandardError "$script.err"
}

function Wait-Path([string] $Path, [double] $Seconds = 300, $Process) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while (-not (Test-Path $Path)) {
        if ($Process -and $Process.HasExited) { throw "The upgrade process ended before $Path appeared." }
        if ([DateTime]::UtcNow -gt $deadline) { throw "$Path did not appear within $Seconds s." }
        Start-Sleep -Milliseconds 100
    }
}
