# Invoke-DfMigration on the three-member test etcd cluster (DF_TEST_ETCD_CLUSTER) with a member
# killed (SIGKILL) part way through its commit. The migrating process is a child pwsh whose store,
# wrapped in the tests' SteppedStore, holds after each write until the test lets it go on, so that
# the kill lands after the journal, the marker and the first batch; killed members are started
# again, so that the next test finds the cluster healthy.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    if (-not $env:DF_TEST_ETCD_CLUSTER) { throw 'DF_TEST_ETCD_CLUSTER is not set: run the tests through build.ps1 Test, which starts the etcd cluster.' }
    Get-SteppedStoreAssembly | Out-Null

    $script:Members = @($env:DF_TEST_ETCD_CLUSTER -replace '^etcd://', '' -split ',')
    $folder = Join-Path $TestDrive 'migrations'
    New-MigrationFile $folder 'bump.ps1' 'bump-every-object' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null

    function Invoke-Member([int] $Member, [string] $Path, [hashtable] $Body) {
        Invoke-RestMethod -NoProxy -TimeoutSec 10 -Method Post -ContentType 'application/json' -Uri "http://$($Members[$Member])/v3/$Path" -Body ($Body | ConvertTo-Json -Compress -Depth 6)
    }
    function ConvertTo-Base64([string] $Text) { [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($Text)) }
    function Get-MemberPid([int] $Member) { [int](Get-Content (Join-Path $env:DF_TEST_ETCD_CLUSTER_STATE "member$Member.pid")) }
    function Test-MemberRunning([int] $Member) { [bool](Get-Process -Id (Get-MemberPid $Member) -ErrorAction SilentlyContinue) }

    # Waits until every running member says it is healthy (a leader elected).
    function Wait-ClusterHealthy {
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        foreach ($i in 0..($Members.Count - 1)) {
            if (-not (Test-MemberRunning $i)) { continue }
            while (-not $(try { (Invoke-RestMethod -NoProxy -TimeoutSec 2 -Uri "http://$($Members[$i])/health").health -eq 'true' } catch { $false })) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "Member $($Members[$i]) of the test etcd cluster is not healthy after 30 s." }
                Start-Sleep -Milliseconds 50
            }
        }
    }
    function Stop-Member([int] $Member) { Stop-ProcessHard (Get-Process -Id (Get-MemberPid $Member)) }
    # Starts killed members again on their data (member<i>.sh execs etcd, so its process is etcd's).
    function Start-Member([int[]] $Member) {
        foreach ($i in $Member) {
            if (Test-MemberRunning $i) { continue }
            $p = Start-Process /bin/sh -ArgumentList "`"$(Join-Path $env:DF_TEST_ETCD_CLUSTER_STATE "member$i.sh")`"" -PassThru
            $p.Id | Set-Content (Join-Path $env:DF_TEST_ETCD_CLUSTER_STATE "member$i.pid")
        }
        Wait-ClusterHealthy
    }
    function Get-Leader {
        Wait-ClusterHealthy
        $leader = (Invoke-Member 0 maintenance/status @{}).leader
        foreach ($i in 0..($Members.Count - 1)) { if ((Invoke-Member $i maintenance/status @{}).header.member_id -eq $leader) { return $i } }
        throw 'No member of the test etcd cluster leads it.'
    }

    # Every key and value of the NB objects (not the module's records, nor the log), as key=value, sorted.
    function Get-ClusterDump([int] $Member) {
        $kvs = (Invoke-Member $Member kv/range @{ key = (ConvertTo-Base64 "`0"); range_end = (ConvertTo-Base64 "`0") }).PSObject.Properties['kvs']
        @($(if ($kvs) { $kvs.Value }) | ForEach-Object {
            $key = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_.key))
            if ($key -notlike '/df_upgrade*' -and $key -notlike '/schema_migration_log/*') { "$key=$([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_.value)))" }
        } | Sort-Object)
    }

    # 1,980 ports and 20 switches, as Dragonflow writes them, in transactions of 100 puts.
    function Reset-Cluster {
        Wait-ClusterHealthy
        Invoke-Member 0 kv/deleterange @{ key = (ConvertTo-Base64 "`0"); range_end = (ConvertTo-Base64 "`0") } | Out-Null
        $objects = @(0..1979 | ForEach-Object { @{ Key = "/lport/p$_"; Value = "{`"id`": `"p$_`", `"topic`": `"t$($_ % 7)`", `"lswitch`": `"s$([math]::Floor($_ / 100))`", `"unique_key`": $_, `"version`": 1}" } }) +
            @(0..19 | ForEach-Object { @{ Key = "/lswitch/s$_"; Value = "{`"id`": `"s$_`", `"topic`": `"t0`", `"unique_key`": $_, `"version`": 1}" } })
        for ($i = 0; $i -lt $objects.Count; $i += 100) {
            $puts = @($objects[$i..([math]::Min($i + 99, $objects.Count - 1))] | ForEach-Object { @{ request_put = @{ key = (ConvertTo-Base64 $_.Key); value = (ConvertTo-Base64 $_.Value) } } })
            Invoke-Member 0 kv/txn @{ success = $puts } | Out-Null
        }
    }

    # Runs the migration in a child held after each write; at the hold after the first batch
    # (the journal's two writes, the marker and a batch written), kills the members $Victims, then lets it go on.
    function Start-KilledMigration([string] $Database, [int[]] $Victims) {
        $hold = New-Item -ItemType Directory (Join-Path $TestDrive "hold-$([guid]::NewGuid())")
        $child = Start-MigrationProcess $Database $folder (Join-Path $TestDrive "backup-$([guid]::NewGuid()).jsonl.gz") -HoldFolder $hold.FullName
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        foreach ($n in 1..4) {
            while (-not (Test-Path (Join-Path $hold.FullName "held-$n"))) {
                if ($child.HasExited -or [DateTime]::UtcNow -gt $deadline) {
                    if (-not $child.HasExited) { Stop-ProcessHard $child }
                    throw "The migration did not reach its write ${n}: $(Get-Content $child.OutputFile -Raw)"
                }
                Start-Sleep -Milliseconds 10
            }
            if ($n -lt 4) { New-Item -ItemType File (Join-Path $hold.FullName "go-$n") | Out-Null }
        }
        $Victims | ForEach-Object { Stop-Member $_ }
        # Every further write goes on without holding.
        New-Item -ItemType File (Join-Path $hold.FullName 'go-on') | Out-Null
        $child
    }
}

Describe 'Invoke-DfMigration on a three-member etcd cluster, a member killed part way through the commit' {
    BeforeEach {
        Reset-Cluster
        $original = Get-ClusterDump 0
        $migrated = @($original | ForEach-Object { $_.Replace('"version": 1}', '"version": 2}') })
    }
    AfterEach { Start-Member 0, 1, 2 }

    It 'goes on through another member when the leader it wrote to dies, to exactly the migrated content' {
        $victim = Get-Leader
        $others = @(0..2 | Where-Object { $_ -ne $victim })
        $database = 'etcd://' + ((@($victim) + $others | ForEach-Object { $Members[$_] }) -join ',')
        $child = Start-KilledMigration $database $victim
        $child.WaitForExit(120000) | Should -BeTrue
        $child.ExitCode | Should -Be 0 -Because (Get-Content $child.OutputFile -Raw)
        Compare-Object (Get-ClusterDump $others[0]) $migrated | Should -BeNullOrEmpty
        Get-DfNbDatabaseLock -Database $env:DF_TEST_ETCD_CLUSTER | Should -BeNullOrEmpty
        (Invoke-Member $others[0] kv/range @{ key = (ConvertTo-Base64 '/schema_migration_log/bump-every-object') }).count | Should -Be 1
    }

    It 'fails naming every member when all of them die, and Resume-DfMigration then finishes it exactly' {
        $child = Start-KilledMigration $env:DF_TEST_ETCD_CLUSTER 0, 1, 2
        $child.WaitForExit(120000) | Should -BeTrue
        $child.ExitCode | Should -Be 3
        $said = Get-Content $child.OutputFile -Raw
        $said | Should -BeLike "CommitInterrupted*$env:DF_TEST_ETCD_CLUSTER*Resume-DfMigration*"
        Start-Member 0, 1, 2
        $err = $null
        try { Invoke-DfMigration -Database $env:DF_TEST_ETCD_CLUSTER -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CommitInProgress*'
        Resume-DfMigration -Database $env:DF_TEST_ETCD_CLUSTER -Confirm:$false | Out-Null
        Compare-Object (Get-ClusterDump 1) $migrated | Should -BeNullOrEmpty
        Get-DfNbDatabaseLock -Database $env:DF_TEST_ETCD_CLUSTER | Should -BeNullOrEmpty
    }
}
