# Scripted upgrades of the test cloud, Pike to Queens: the whole upgrade, -WhatIf, and one
# upgrade per failure point, each of which must leave the cloud exactly as it was (the same NB
# content byte for byte but for the heartbeat rows, the old release running on every node).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    . "$PSScriptRoot/../fixtures/remote/TestCloud.ps1"
    . "$PSScriptRoot/UpgradeSupport.ps1"
    . "$PSScriptRoot/FixtureSupport.ps1"
}

Describe 'Invoke-DfUpgrade from Pike to Queens' {
    BeforeAll {
        $cloud = New-PikeCloud -RedisDb 60
        $before = Get-CloudPicture $cloud
        $parameters = Get-UpgradeParameters $cloud
        $results = Invoke-DfUpgrade @parameters
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'reports every step on every node as succeeded' {
        $results.Status | Should -Not -Contain 'Failed'
        ($results | Where-Object Step -EQ 'Readiness').Status | Should -Not -Contain 'Failed'
        foreach ($step in 'Stop', 'Update', 'Start', 'Verify') {
            @($results | Where-Object { $_.Step -eq $step -and $_.Status -eq 'Succeeded' }).Count | Should -Be 2 -Because "step $step runs on both nodes"
        }
        ($results | Where-Object { $_.Step -eq 'MigrateNb' -and $_.Status -eq 'Succeeded' }).Detail | Should -BeLike 'applied *'
        # The plan's warnings (the sample has a network with two DHCP ports) are rows of their own.
        ($results | Where-Object { $_.Step -eq 'MigrateNb' -and $_.Status -eq 'Warning' }).Detail | Should -BeLike '*DHCP ports*'
    }

    It 'ends with exactly the Queens NB database' {
        $expectedDb = 59
        $file = Join-Path $cloud.Dir 'queens.jsonl'
        Copy-Item "$PSScriptRoot/../fixtures/queens-expected.jsonl" $file
        Backup-DfNbDatabase -Database $file -Path (Join-Path $cloud.Dir 'queens.jsonl.gz') | Out-Null
        Invoke-RedisCli $expectedDb FLUSHDB | Out-Null
        Restore-DfNbDatabase -Database "redis://$Endpoint/$expectedDb" -Path (Join-Path $cloud.Dir 'queens.jsonl.gz') -Force -Confirm:$false | Out-Null
        # The heartbeat rows, the log's times and the test nodes' own chassis are not the sample's.
        $notLog = { $_ -notmatch '^\{(service|listener|publisher|schema_migration_log)\.' -and $_ -notmatch '^\{chassis\.\}\.node\d' }
        $dump = Get-NbDump $expectedDb
        $expected = @($dump | Where-Object $notLog)
        Invoke-RedisCli $expectedDb FLUSHDB | Out-Null
        $dump = Get-NbDump $cloud.RedisDb
        $actual = @($dump | Where-Object $notLog)
        $actual.Count | Should -BeGreaterThan 50
        # The fixture's values are compact JSON, the run writes Python's layout: compare the values, not their spacing.
        $canonical = { $key, $value = $_ -split ' = ', 2; "$key = $(ConvertTo-CanonicalJson ($value | ConvertFrom-Json -AsHashtable))" }
        Compare-NbDump @($actual | ForEach-Object $canonical) @($expected | ForEach-Object $canonical) | Should -BeNullOrEmpty
        $actual.Count | Should -Be $expected.Count
        Get-DfMigration -Database $cloud.Database -Pending | Should -BeNullOrEmpty
    }

    It 'leaves every service running the new release and heartbeating' {
        $running = Get-TestRelease $cloud
        @($running).Count | Should -Be @($before.Services).Count
        $running.Release | Sort-Object -Unique | Should -Be 'queens'
        # Every Dragonflow service of the nodes but the l3 agent (which reports to Neutron) heartbeats.
        $expectedRows = @($running | Where-Object { $_.Service -notin 'neutron-server', 'df-l3-agent' }).Count
        @(Get-FreshServiceRow $cloud).Count | Should -Be $expectedRows
    }

    It 'records the upgrade as completed and writes a report beside the backups' {
        $state = Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json
        $state.status | Should -Be 'Completed'
        $state.steps.state | Sort-Object -Unique | Should -Be 'Done'
        $state.database | Should -Be $cloud.Database
        Test-Path $state.nbBackupPath | Should -BeTrue
        Get-ChildItem $cloud.Backups -Filter 'df-upgrade-*.md' | Get-Content -Raw | Should -Match 'Status: Completed'
        Get-ChildItem $cloud.Backups -Filter "df-upgrade-$($state.id).json" | Should -Not -BeNullOrEmpty
    }

    It 'finds nothing to do when run again with -Resume' {
        { Invoke-DfUpgrade @parameters -Resume } | Should -Throw -ErrorId 'UpgradeNotFound*'
    }
}

Describe 'Invoke-DfUpgrade -WhatIf' {
    BeforeAll { $cloud = New-PikeCloud -RedisDb 61 }
    AfterAll { Remove-TestCloud $cloud }

    It 'shows every step it would take and changes nothing anywhere' {
        $before = Get-CloudPicture $cloud
        # Only starts and stops: a daemon started by New-PikeCloud may still be logging its first heartbeat.
        $startsAndStops = { @(Get-TestServiceEvent $cloud | Where-Object What -Match '^(start|stop)-').Count }
        $eventsBefore = & $startsAndStops
        $parameters = Get-UpgradeParameters $cloud
        $plan = Invoke-DfUpgrade @parameters -WhatIf
        $plan.Status | Sort-Object -Unique | Should -Be 'WouldRun'
        $plan.Step | Select-Object -Unique | Should -Be @('Stop', 'Update', 'BackupNb', 'MigrateNb', 'Start', 'Verify')
        ($plan | Where-Object Step -EQ 'Update').Detail | Should -Contain "run echo queens > '$($cloud.ServiceDir)/node01/release'"
        ($plan | Where-Object { $_.Step -eq 'Stop' -and $_.Node -eq 'node01' }).Detail | Should -BeLike 'stop neutron-server, *'
        $after = Get-CloudPicture $cloud
        Compare-NbDump $after.Nb $before.Nb | Should -BeNullOrEmpty
        $after.Services | Should -Be $before.Services
        @(Get-TestServiceEvent $cloud | Where-Object What -Like 'stop*').Count | Should -Be 0
        & $startsAndStops | Should -Be $eventsBefore
        Test-Path $cloud.Backups | Should -BeFalse
    }
}

Describe 'A failed upgrade puts the cloud back as it was' {
    BeforeEach {
        $cloud = New-PikeCloud -RedisDb 62
        $before = Get-CloudPicture $cloud
        $parameters = Get-UpgradeParameters $cloud
    }
    AfterEach { Remove-TestCloud $cloud }

    It 'stops nothing when a node is unreachable at readiness' {
        Remove-TestCloud $cloud
        $cloud = New-PikeCloud -RedisDb 62 -WithDownNode
        $before = Get-CloudPicture $cloud
        $parameters = Get-UpgradeParameters $cloud
        $run = Invoke-Capturing { Invoke-DfUpgrade @parameters -ConnectTimeout 2 }
        $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeNotReady*'
        $run.Thrown.Exception.Message | Should -Match 'down1'
        ($run.Output | Where-Object { $_.Node -eq 'down1' }).Status | Should -Contain 'Failed'
        @(Get-TestServiceEvent $cloud | Where-Object What -Like 'stop*').Count | Should -Be 0
        $after = Get-CloudPicture $cloud
        Compare-NbDump $after.Nb $before.Nb | Should -BeNullOrEmpty
        $after.Services | Should -Be $before.Services
    }

    It 'rolls back when <Case>' -ForEach @(
        @{ Case = 'a service will not stop'; Step = 'Stop'; Node = 'node02'; Arrange = { param($c) New-Item "$($c.ServiceDir)/node02/df-local-controller.refuse-stop" | Out-Null } }
        @{ Case = 'the update command fails on one node'; Step = 'Update'; Node = 'node02'; Arrange = { param($c, $p) $p.UpdateCommand = "test {node} != node02 && $($p.UpdateCommand)" } }
        @{ Case = 'an NB migration fails'; Step = 'MigrateNb'; Node = $null; Arrange = {
                param($c, $p)
                $p.MigrationPath = Join-Path $c.Dir 'migrations'
                # It passes readiness (on the snapshot) and fails at the step: the update command arms it.
                New-MigrationFile $p.MigrationPath 'boom.ps1' 'boom' '2017-12-01T00:00:00Z' "if (Test-Path '$($c.Dir)/armed') { throw 'boom' }" | Out-Null
                $p.UpdateCommand = "touch '$($c.Dir)/armed'; $($p.UpdateCommand)" } }
        @{ Case = 'a service will not start at the new release'; Step = 'Start'; Node = 'node01'; Arrange = { param($c) New-Item "$($c.ServiceDir)/node01/df-metadata-service.refuse-start-queens" | Out-Null } }
    ) {
        & $Arrange $cloud $parameters
        $run = Invoke-Capturing { Invoke-DfUpgrade @parameters }
        $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeRolledBack*'
        $run.Thrown.Exception.Message | Should -BeLike "*at step $Step$(if ($Node) { " on $Node" })*Rolled back:*the old control plane started*"
        ($run.Output | Where-Object Step -EQ $Step).Status | Should -Contain 'Failed'
        Remove-Item "$($cloud.ServiceDir)/*/*.refuse-*" -ErrorAction SilentlyContinue

        $after = Get-CloudPicture $cloud
        Compare-NbDump $after.Nb $before.Nb | Should -BeNullOrEmpty
        $after.Nb.Count | Should -Be $before.Nb.Count
        $after.Services | Should -Be $before.Services
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RolledBack'
    }

    It 'leaves the cloud stopped for a human with -NoRollback, and Undo-DfUpgrade then puts it back' {
        $parameters.UpdateCommand = "test {node} != node02 && $($parameters.UpdateCommand)"
        $run = Invoke-Capturing { Invoke-DfUpgrade @parameters -NoRollback }
        $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeFailed*'
        @(Get-TestRelease $cloud).Count | Should -Be 0
        { Invoke-DfUpgrade @parameters } | Should -Throw -ErrorId 'UpgradeInterrupted*'

        $undo = Undo-DfUpgrade -Inventory $cloud.Inventory -Database $cloud.Database -BackupPath $cloud.Backups -KnownHostsPath $cloud.KnownHosts -ServiceDownTime 2 -HeartbeatTimeout 60 -Confirm:$false
        $undo.Status | Should -Not -Contain 'RollbackFailed'
        $after = Get-CloudPicture $cloud
        Compare-NbDump $after.Nb $before.Nb | Should -BeNullOrEmpty
        $after.Services | Should -Be $before.Services
    }
}

Describe 'An upgrade whose process is killed (SIGKILL)' {
    BeforeEach {
        $cloud = New-PikeCloud -RedisDb 62
        $before = Get-CloudPicture $cloud
        $parameters = Get-UpgradeParameters $cloud
        $hold = Join-Path $cloud.Dir 'hold'
    }
    AfterEach { Remove-TestCloud $cloud }

    It 'is found by the next run, and -Resume finishes it, killed during <Stage>' -ForEach @(
        @{ Stage = 'the update'; Gate = 'Update' }
        @{ Stage = 'the start'; Gate = 'Start' }
    ) {
        # The gate holds the update command (or the first start at queens) until the test has killed the process.
        if ($Gate -eq 'Update') {
            $parameters.UpdateCommand = "touch '$hold.reached'; while [ -e '$hold' ]; do sleep 0.1; done; $($parameters.UpdateCommand)"
            New-Item $hold | Out-Null
        }
        else {
            $hold = Join-Path $cloud.ServiceDir 'start.hold-queens'
            New-Item $hold | Out-Null
        }
        $child = Start-UpgradeProcess $parameters $cloud.Dir
        try {
            if ($Gate -eq 'Update') { Wait-Path "$hold.reached" -Process $child }
            else { Wait-Path (Join-Path $cloud.ServiceDir 'start.reached') -Process $child }
        }
        finally { Stop-ProcessHard $child }
        Remove-Item $hold
        Start-Sleep -Seconds 1 # a command the killed process left on a node finishes
        $state = Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json
        $state.status | Should -Be 'Running'

        $again = Invoke-Capturing { Invoke-DfUpgrade @parameters }
        $again.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeInterrupted*'
        $again.Thrown.Exception.Message | Should -Match "stopped at step $Gate"
        $again.Thrown.ErrorDetails.RecommendedAction | Should -Match "-Resume.*Undo-DfUpgrade"

        $resumed = Invoke-DfUpgrade @parameters -Resume
        $resumed.Status | Should -Not -Contain 'Failed'
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Completed'
        (Get-TestRelease $cloud).Release | Sort-Object -Unique | Should -Be 'queens'
        Get-DfMigration -Database $cloud.Database -Pending | Should -BeNullOrEmpty
        # The NB backup is taken once, whatever the number of runs.
        @(Get-ChildItem $cloud.Backups -Filter '*.jsonl.gz' | Where-Object Name -NotLike '*.journal.*').Count | Should -Be 1
    }

    It 'is rolled back by Undo-DfUpgrade, killed during the update' {
        $parameters.UpdateCommand = "touch '$hold.reached'; while [ -e '$hold' ]; do sleep 0.1; done; $($parameters.UpdateCommand)"
        New-Item $hold | Out-Null
        $child = Start-UpgradeProcess $parameters $cloud.Dir
        try { Wait-Path "$hold.reached" -Process $child }
        finally { Stop-ProcessHard $child }
        Remove-Item $hold
        Start-Sleep -Seconds 1 # a command the killed process left on a node finishes

        $undo = Undo-DfUpgrade -Inventory $cloud.Inventory -Database $cloud.Database -BackupPath $cloud.Backups -KnownHostsPath $cloud.KnownHosts -ServiceDownTime 2 -HeartbeatTimeout 60 -Confirm:$false
        ($undo | Where-Object Step -EQ 'Update').Status | Sort-Object -Unique | Should -Be 'RolledBack'
        $after = Get-CloudPicture $cloud
        Compare-NbDump $after.Nb $before.Nb | Should -BeNullOrEmpty
        $after.Services | Should -Be $before.Services
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RolledBack'
    }
}
