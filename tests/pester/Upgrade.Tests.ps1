# Scripted upgrades of the test cloud, Pike to Queens: the whole upgrade, -WhatIf, and one
# upgrade per failure point, each of which must leave the cloud exactly as it was (the same NB
# content byte for byte but for the heartbeat rows, the same Neutron database and dragonflow.ini
# files, the old release running on every node).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    . "$PSScriptRoot/../fixtures/remote/TestCloud.ps1"
    . "$PSScriptRoot/NeutronSupport.ps1"
    . "$PSScriptRoot/ConfigurationSupport.ps1"
    . "$PSScriptRoot/UpgradeSupport.ps1"
    . "$PSScriptRoot/FixtureSupport.ps1"
    # The clouds that tests leave as they found them, used again by the next test (Get-SharedPikeCloud).
    $shared = @{}
}
AfterAll { Remove-SharedPikeCloud $shared }

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
        foreach ($step in 'Stop', 'Update', 'Configure', 'Start', 'Verify') {
            @($results | Where-Object { $_.Step -eq $step -and $_.Status -eq 'Succeeded' }).Count | Should -Be 2 -Because "step $step runs on both nodes"
        }
        ($results | Where-Object { $_.Step -eq 'MigrateNb' -and $_.Status -eq 'Succeeded' }).Detail | Should -BeLike 'applied *'
        ($results | Where-Object { $_.Step -eq 'BackupNeutron' -and $_.Node -eq 'node01' }).Status | Should -Be 'Succeeded'
        ($results | Where-Object { $_.Step -eq 'MigrateNeutron' -and $_.Node -eq 'node01' }).Status | Should -Be 'Succeeded'
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

    It 'ends with Neutron''s database migrated, its dump beside the NB backup' {
        Invoke-TestNeutronSql 'SELECT version_num FROM neutron.alembic_version ORDER BY 1' | Should -Be '594422d373ee', '5c85685d616d'
        Invoke-TestNeutronSql 'SELECT network_type, segmentation_id FROM neutron.network_segments ORDER BY 1' | Should -Be "flat`tNULL", "vxlan`t1077"
        $state = Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json
        Split-Path $state.neutronBackupPath | Should -Be $cloud.Backups
        Test-Path "$($state.neutronBackupPath).sha256" | Should -BeTrue
    }

    It 'renames in every node''s dragonflow.ini what the target options rename, keeping the original' {
        foreach ($node in Get-DfNode $cloud.Inventory) {
            $text = Get-Content $node.ConfigFiles[0] -Raw
            $text | Should -Match '(?m)^nb_db_driver = etcd_nb_db_driver$'
            $text | Should -Not -Match '(?m)^nb_db_class'
        }
        $originals = @(Get-ChildItem (Join-Path $cloud.Backups 'configuration') -Recurse -File)
        $originals.Count | Should -Be 2
        foreach ($o in $originals) { Get-Content $o.FullName -Raw | Should -Be (Get-Content $PikeIni -Raw) }
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
    BeforeAll { $cloud = (Get-SharedPikeCloud $shared 61).Cloud }

    It 'shows every step it would take and changes nothing anywhere' {
        $before = Get-CloudPicture $cloud
        # Only starts and stops: a daemon started by New-PikeCloud may still be logging its first heartbeat.
        $startsAndStops = { @(Get-TestServiceEvent $cloud | Where-Object What -Match '^(start|stop)-').Count }
        $eventsBefore = & $startsAndStops
        $parameters = Get-UpgradeParameters $cloud
        $plan = Invoke-DfUpgrade @parameters -WhatIf
        $plan.Status | Sort-Object -Unique | Should -Be 'WouldRun'
        $plan.Step | Select-Object -Unique | Should -Be @('Stop', 'Update', 'Configure', 'BackupNeutron', 'MigrateNeutron', 'MigrateNb', 'Start', 'Verify')
        ($plan | Where-Object Step -EQ 'MigrateNeutron').Detail | Should -BeLike '*neutron-db-manage'' upgrade heads'
        ($plan | Where-Object Step -EQ 'MigrateNeutron').Node | Should -Be 'node01' 
        ($plan | Where-Object Step -EQ 'Update').Detail | Should -Contain "run echo queens > '$($cloud.ServiceDir)/node01/release'"
        ($plan | Where-Object { $_.Step -eq 'Stop' -and $_.Node -eq 'node01' }).Detail | Should -BeLike 'stop neutron-server, *'
        $after = Get-CloudPicture $cloud
        Compare-NbDump $after.Nb $before.Nb | Should -BeNullOrEmpty
        $after.Services | Should -Be $before.Services
        @(Get-TestServiceEvent $cloud | Where-Object What -Like 'stop*').Count | Should -Be 0
        & $startsAndStops | Should -Be $eventsBefore
        Test-Path $cloud.Backups | Should -BeFalse
        Compare-CloudPicture $before $after | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-DfUpgrade on a cloud whose inventory has no NeutronDatabase' {
    BeforeAll { $cloud = New-PikeCloud -RedisDb 60 -WithoutNeutron }
    AfterAll { Remove-TestCloud $cloud }

    It 'says in the plan that Neutron''s database is left as it is' {
        $parameters = Get-UpgradeParameters $cloud
        $plan = Invoke-DfUpgrade @parameters -WhatIf
        foreach ($step in 'BackupNeutron', 'MigrateNeutron') {
            ($plan | Where-Object Step -EQ $step).Detail | Should -Be 'the inventory has no NeutronDatabase table: Neutron''s database is left as it is'
        }
    }
}

Describe 'Test-DfUpgradeReadiness' {
    BeforeAll {
        $cloud = (Get-SharedPikeCloud $shared 61).Cloud
        $parameters = Get-UpgradeParameters $cloud
        foreach ($key in 'UpdateCommand', 'RevertCommand', 'OptionManifest', 'Confirm') { $parameters.Remove($key) }
        # The Failed rows of one check (wrap the call in @(): one row comes back as itself, not an array).
        $failed = { param($results, $check) $results | Where-Object { $_.Check -eq $check -and $_.Status -eq 'Failed' } }
    }
    AfterAll { Remove-TestCloud $cloud; $shared.Remove(61) }

    It 'passes the test cloud, one result per check, and warns of the configuration findings per node' {
        $results = Test-DfUpgradeReadiness @parameters
        $results.Status | Should -Not -Contain 'Failed'
        foreach ($check in 'NeutronDatabase', 'NbDatabase', 'NbCommit', 'NbMigrations', 'BackupFolder', 'ControlPlane') {
            @($results | Where-Object Check -EQ $check).Count | Should -BeGreaterOrEqual 1 -Because "the $check check runs"
        }
        ($results | Where-Object Check -EQ 'NeutronDatabase').Node | Should -Be 'node01'
        ($results | Where-Object Check -EQ 'NeutronDatabase').Message | Should -BeLike '*; it holds * MiB'
        ($results | Where-Object Check -EQ 'BackupFolder').Message | Should -BeLike '*the NB backup takes up to * MiB and Neutron''s dump about * MiB, before compression)'
        $config = @($results | Where-Object Check -EQ 'Configuration')
        $config.Node | Should -Be @('node01', 'node02')
        # The Pike file sets the DNAT options Queens deprecates for removal: they still work.
        $config.Status | Sort-Object -Unique | Should -Be 'Warning'
        $config[0].Message | Should -BeLike '*line 27: `[df_dnat_app`] external_network_bridge is deprecated for removal in queens*'
    }

    It 'fails NeutronDatabase when Neutron''s database does not answer from the controller' {
        $wrong = [pscredential]::new('neutron', (ConvertTo-SecureString 'not-the-password' -AsPlainText -Force))
        $result = @(& $failed (Test-DfUpgradeReadiness @parameters -NeutronCredential $wrong) 'NeutronDatabase')
        $result.Count | Should -Be 1
        $result.Node | Should -Be 'node01'
        $result.Message | Should -BeLike '*Access denied*-NeutronCredential*'
        $result.Message | Should -Not -BeLike '*not-the-password*'
        (Test-DfUpgradeReadiness @parameters -NeutronCredential $wrong | Where-Object Check -EQ 'BackupFolder').Message |
            Should -BeLike "*only the NB backup is sized, up to * MiB before compression; Neutron's dump comes on top, unsized (Neutron's database does not answer))"
    }

    It 'fails Configuration on a node whose dragonflow.ini cannot be read, naming node and file' {
        $file = (Get-DfNode $cloud.Inventory | Where-Object Name -EQ 'node02').ConfigFiles[0]
        Move-Item $file "$file.away"
        try { $result = @(& $failed (Test-DfUpgradeReadiness @parameters) 'Configuration') }
        finally { Move-Item "$file.away" $file }
        $result.Node | Should -Be 'node02'
        $result.Message | Should -BeLike "node02: $file does not exist.*DragonflowConfig*"
    }

    It 'fails Configuration when a file sets an option the target options removed, and warns of one the update renames' {
        $options = Get-Content (Join-Path $PSScriptRoot '../../src/DragonflowUpgrade.Dragonflow/Options/queens.json') -Raw | ConvertFrom-Json -AsHashtable
        $options.groups.df_l2_app.Remove('l2_responder')
        $options | ConvertTo-Json -Depth 8 | Set-Content (Join-Path $cloud.Dir 'removing.json')
        $result = @(& $failed (Test-DfUpgradeReadiness @parameters -OptionManifest (Join-Path $cloud.Dir 'removing.json')) 'Configuration')
        $result.Node | Should -Be 'node01', 'node02'
        $result[0].Message | Should -BeLike '*line 24: `[df_l2_app`] l2_responder is an option of pike that queens no longer has*Fix the file*'

        $renaming = Test-DfUpgradeReadiness @parameters -OptionManifest (New-RenamingManifest (Join-Path $cloud.Dir 'renaming.json')) | Where-Object Check -EQ 'Configuration'
        $renaming.Status | Sort-Object -Unique | Should -Be 'Warning'
        $renaming[0].Message | Should -BeLike '*line 9: next reads `[df`] nb_db_class as `[df`] nb_db_driver. Update-DfConfiguration renames it.*'
    }

    It 'fails BackupFolder when the backup folder cannot be made' {
        $file = Join-Path $cloud.Dir 'a-file'
        Set-Content $file 'x'
        $result = @(& $failed (Test-DfUpgradeReadiness @parameters -BackupPath (Join-Path $file 'backups')) 'BackupFolder')
        $result.Count | Should -Be 1
        $result.Message | Should -BeLike "$file is a file, so the backup folder * cannot be made; give -BackupPath a folder"
    }

    It 'fails NbDatabase while another process holds the lock, and warns once that process is gone' {
        $script = Join-Path $cloud.Dir 'hold-lock.ps1'
        $ready = Join-Path $cloud.Dir 'lock-held'
        @"
Import-Module '$PSScriptRoot/../../DragonflowUpgrade.psd1'
Lock-DfNbDatabase -Database '$($cloud.Database)' -Purpose 'maintenance' -Confirm:`$false | Out-Null
New-Item '$ready' | Out-Null
Start-Sleep -Seconds 600
"@ | Set-Content $script
        $exe = (Get-Process -Id $PID).Path
        $arguments = @('-NoProfile', '-NonInteractive', '-File', $script)
        if ((Split-Path $exe -Leaf) -like 'dotnet*') { $arguments = @(Join-Path $PSHOME 'pwsh.dll') + $arguments }
        $child = Start-Process $exe -ArgumentList $arguments -PassThru
        try {
            Wait-Path $ready -Process $child
            $result = @(& $failed (Test-DfUpgradeReadiness @parameters) 'NbDatabase')
            $result.Count | Should -Be 1
            $result.Message | Should -BeLike "*is locked by*maintenance*wait for that run to end*"
        }
        finally { Stop-ProcessHard $child }
        $gone = Test-DfUpgradeReadiness @parameters | Where-Object Check -EQ 'NbDatabase'
        $gone.Status | Should -Be 'Warning'
        $gone.Message | Should -BeLike '*which is gone: the upgrade takes the lock over'
        Unlock-DfNbDatabase -Database $cloud.Database -Force -Confirm:$false | Out-Null
    }
}

Describe 'A failed upgrade puts the cloud back as it was' {
    BeforeEach {
        $kept = Get-SharedPikeCloud $shared 62
        $cloud = $kept.Cloud
        $before = $kept.Before
        $parameters = Get-UpgradeParameters $cloud
    }
    AfterEach { Remove-Item $cloud.NeutronFail -ErrorAction SilentlyContinue }

    It 'stops nothing when a node is unreachable at readiness' {
        $down = New-PikeCloud -RedisDb 60 -WithDownNode
        try {
            $before = Get-CloudPicture $down
            $parameters = Get-UpgradeParameters $down
            $run = Invoke-Capturing { Invoke-DfUpgrade @parameters -ConnectTimeout 2 }
            $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeNotReady*'
            $run.Thrown.Exception.Message | Should -Match 'down1'
            ($run.Output | Where-Object { $_.Node -eq 'down1' }).Status | Should -Contain 'Failed'
            @(Get-TestServiceEvent $down | Where-Object What -Like 'stop*').Count | Should -Be 0
            Compare-CloudPicture $before (Get-CloudPicture $down) | Should -BeNullOrEmpty
        }
        finally { Remove-TestCloud $down }
    }

    It 'rolls back when <Case>' -ForEach @(
        @{ Case = 'a service will not stop'; Step = 'Stop'; Node = 'node02'; Arrange = { param($c) New-Item "$($c.ServiceDir)/node02/df-local-controller.refuse-stop" | Out-Null } }
        @{ Case = 'the update command fails on one node'; Step = 'Update'; Node = 'node02'; Arrange = { param($c, $p) $p.UpdateCommand = "test {node} != node02 && $($p.UpdateCommand)" } }
        @{ Case = 'the Neutron migration fails'; Step = 'MigrateNeutron'; Node = 'node01'; Arrange = { param($c) New-Item $c.NeutronFail | Out-Null } }
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
        # It says what the rollback did: no restore of an NB database its migration never wrote, no backup step by name.
        if ($Step -eq 'MigrateNb') { $run.Thrown.Exception.Message | Should -BeLike '*the NB database left as it was (its migration had written nothing)*' }
        $run.Thrown.Exception.Message | Should -Not -Match 'BackupNeutron'
        ($run.Output | Where-Object Step -EQ $Step).Status | Should -Contain 'Failed'
        Remove-Item "$($cloud.ServiceDir)/*/*.refuse-*" -ErrorAction SilentlyContinue

        Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RolledBack'
    }

    It 'leaves the cloud stopped for a human with -NoRollback, and Undo-DfUpgrade then puts it back' {
        $parameters.UpdateCommand = "test {node} != node02 && $($parameters.UpdateCommand)"
        $run = Invoke-Capturing { Invoke-DfUpgrade @parameters -NoRollback }
        $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeFailed*'
        @(Get-TestRelease $cloud).Count | Should -Be 0
        { Invoke-DfUpgrade @parameters } | Should -Throw -ErrorId 'UpgradeInterrupted*'

        $undo = Undo-DfUpgrade -Inventory $cloud.Inventory -Database $cloud.Database -BackupPath $cloud.Backups -KnownHostsPath $cloud.KnownHosts -ServiceDownTime 2 -HeartbeatTimeout 60 -NeutronCredential (Get-TestNeutronCredential) -Confirm:$false
        $undo.Status | Should -Not -Contain 'RollbackFailed'
        Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
    }
}

Describe 'An upgrade whose process is killed (SIGKILL)' {
    BeforeEach {
        $kept = Get-SharedPikeCloud $shared 62
        $cloud = $kept.Cloud
        $before = $kept.Before
        $parameters = Get-UpgradeParameters $cloud
        $hold = Join-Path $cloud.Dir 'hold'
    }

    It 'holds the NB database''s lock from before the stop until it ends: another writer is refused meanwhile' {
        $parameters.UpdateCommand = "touch '$hold.reached'; while [ -e '$hold' ]; do sleep 0.1; done; $($parameters.UpdateCommand)"
        New-Item $hold | Out-Null
        $child = Start-UpgradeProcess $parameters $cloud.Dir
        try {
            Wait-Path "$hold.reached" -Process $child
            (Get-DfNbDatabaseLock -Database $cloud.Database).Purpose | Should -BeLike "Invoke-DfUpgrade (upgrade *-* to queens, its state in $($cloud.Backups))"
            $refused = Invoke-Capturing { Invoke-DfMigration -Database $cloud.Database -TargetRelease queens -Confirm:$false }
            $refused.Thrown.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
            Remove-Item $hold
            $child.WaitForExit(300000) | Should -BeTrue
        }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
        $child.ExitCode | Should -Be 0
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Completed'
        Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
    }

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
        Wait-LeftCommand $cloud
        $state = Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json
        $state.status | Should -Be 'Running'

        $again = Invoke-Capturing { Invoke-DfUpgrade @parameters }
        $again.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeInterrupted*'
        $again.Thrown.Exception.Message | Should -Match "stopped at step $Gate"
        $again.Thrown.ErrorDetails.RecommendedAction | Should -Match "-Resume.*Undo-DfUpgrade"

        # The killed process's lock is left behind; the resume takes it over, as its holder is gone.
        (Get-DfNbDatabaseLock -Database $cloud.Database).Purpose | Should -BeLike 'Invoke-DfUpgrade (upgrade *'
        $resumed = Invoke-DfUpgrade @parameters -Resume
        $resumed.Status | Should -Not -Contain 'Failed'
        Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Completed'
        (Get-TestRelease $cloud).Release | Sort-Object -Unique | Should -Be 'queens'
        Get-DfMigration -Database $cloud.Database -Pending | Should -BeNullOrEmpty
        Invoke-TestNeutronSql 'SELECT version_num FROM neutron.alembic_version ORDER BY 1' | Should -Be '594422d373ee', '5c85685d616d'
        # The NB backup is taken once, whatever the number of runs.
        @(Get-ChildItem $cloud.Backups -Filter '*.jsonl.gz' | Where-Object Name -NotLike '*.journal.*').Count | Should -Be 1
    }

    It 'is finished by -Resume with exactly the Queens content, killed inside <Step>' -ForEach @(
        @{ Step = 'Configure' }, @{ Step = 'MigrateNeutron' }, @{ Step = 'MigrateNb' }
    ) {
        Stop-UpgradeInside $cloud $parameters $Step
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Running'

        $resumed = Invoke-DfUpgrade @parameters -Resume
        $resumed.Status | Should -Not -Contain 'Failed'
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Completed'
        Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
        Compare-QueensNb $cloud | Should -BeNullOrEmpty
        Get-DfMigration -Database $cloud.Database -Pending | Should -BeNullOrEmpty
        Invoke-TestNeutronSql 'SELECT version_num FROM neutron.alembic_version ORDER BY 1' | Should -Be '594422d373ee', '5c85685d616d'
        Invoke-TestNeutronSql 'SELECT network_type, segmentation_id FROM neutron.network_segments ORDER BY 1' | Should -Be "flat`tNULL", "vxlan`t1077"
        foreach ($node in Get-DfNode $cloud.Inventory) {
            $text = Get-Content $node.ConfigFiles[0] -Raw
            $text | Should -Match '(?m)^nb_db_driver = etcd_nb_db_driver$'
            $text | Should -Not -Match '(?m)^nb_db_class'
        }
        (Get-TestRelease $cloud).Release | Sort-Object -Unique | Should -Be 'queens'
    }

    It 'is rolled back exactly by Undo-DfUpgrade, killed inside the Neutron migration; without -NeutronCredential the Undo first undoes nothing' {
        Stop-UpgradeInside $cloud $parameters 'MigrateNeutron'
        $undo = @{ Inventory = $cloud.Inventory; Database = $cloud.Database; BackupPath = $cloud.Backups; KnownHostsPath = $cloud.KnownHosts
                   ServiceDownTime = 2; HeartbeatTimeout = 60; Confirm = $false }

        $refused = Invoke-Capturing { Undo-DfUpgrade @undo }
        $refused.Thrown.Exception.Message | Should -BeLike '*The rollback did not start, so nothing was undone*MigrateNeutron*-NeutronCredential*'
        @(Get-TestRelease $cloud).Count | Should -Be 0 -Because 'no service is started over a database not restored'
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RollbackFailed'

        $done = Undo-DfUpgrade @undo -NeutronCredential (Get-TestNeutronCredential)
        $done.Status | Should -Not -Contain 'RollbackFailed'
        Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
        Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RolledBack'
    }

    It 'is rolled back exactly by Undo-DfUpgrade, killed inside the NB migration' {
        Stop-UpgradeInside $cloud $parameters 'MigrateNb'
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Running'
        @(Invoke-RedisCli $cloud.RedisDb --scan --pattern '{df_upgrade_run*') | Should -Not -BeNullOrEmpty -Because 'the killed upgrade is recorded as under way'

        $undo = Undo-DfUpgrade -Inventory $cloud.Inventory -Database $cloud.Database -BackupPath $cloud.Backups -KnownHostsPath $cloud.KnownHosts -ServiceDownTime 2 -HeartbeatTimeout 60 -NeutronCredential (Get-TestNeutronCredential) -Confirm:$false
        $undo.Status | Should -Not -Contain 'RollbackFailed'
        ($undo | Where-Object Step -EQ 'Update').Status | Sort-Object -Unique | Should -Be 'RolledBack'
        Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
        Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RolledBack'
        # Nothing is left marked as under way: another upgrade may start.
        @(Invoke-RedisCli $cloud.RedisDb --scan --pattern '{df_upgrade_run*') | Should -BeNullOrEmpty
    }

    It 'is rolled back by Undo-DfUpgrade, killed during the update' {
        $parameters.UpdateCommand = "touch '$hold.reached'; while [ -e '$hold' ]; do sleep 0.1; done; $($parameters.UpdateCommand)"
        New-Item $hold | Out-Null
        $child = Start-UpgradeProcess $parameters $cloud.Dir
        try { Wait-Path "$hold.reached" -Process $child }
        finally { Stop-ProcessHard $child }
        Remove-Item $hold
        Wait-LeftCommand $cloud

        $undo = Undo-DfUpgrade -Inventory $cloud.Inventory -Database $cloud.Database -BackupPath $cloud.Backups -KnownHostsPath $cloud.KnownHosts -ServiceDownTime 2 -HeartbeatTimeout 60 -NeutronCredential (Get-TestNeutronCredential) -Confirm:$false
        ($undo | Where-Object Step -EQ 'Update').Status | Sort-Object -Unique | Should -Be 'RolledBack'
        Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
        Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        (Get-Content (Join-Path $cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'RolledBack'
    }
}
