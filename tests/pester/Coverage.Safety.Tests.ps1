# Behaviours of the lock, backups, restores and undos that no other test covers: interrupted
# commits and undos met by the other cmdlets, a live process's lock, the backup a run expects,
# and where backups go by default.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"

    function Add-Ports([int] $Index) {
        Add-RedisObjects $Index @(New-Port 'p1' 't1'; New-Port 'p2' 't1' 'network:dhcp'; New-Port 'p3' 't2')
    }
    $folder = Join-Path $TestDrive 'migrations'
    New-MigrationFile $folder 'bump.ps1' 'bump' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null

    # Kills a migration of database $Index once its commit has stored its journal and marker,
    # before any object is written.
    function New-InterruptedCommit([int] $Index, [string] $Backup) {
        $child = Start-MigrationProcess "redis://$Endpoint/$Index" $folder $Backup -PauseMs 4000
        try { Wait-RedisKey $Index $CommitMarker -Process $child }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
        Get-RewrittenCount $Index | Should -Be 0 -Because 'the kill should land before any object was written'
    }
}

Describe 'Restore-DfNbDatabase and Backup-DfNbDatabase on a database whose commit was interrupted' {
    # One interrupted commit serves every case: the refusal and the backup leave it as it was (each
    # checks so), and the forced restore, which ends it, comes last.
    BeforeAll {
        $db = New-TestRedis 80
        Add-Ports 80
        $original = Get-NbDump 80
        $saved = Join-Path $TestDrive "saved-$([guid]::NewGuid()).jsonl.gz"
        Backup-DfNbDatabase -Database $db -Path $saved | Out-Null
        New-InterruptedCommit 80 (Join-Path $TestDrive "run-$([guid]::NewGuid()).jsonl.gz")
        $interrupted = Get-NbDump 80
        $journal = @(Invoke-RedisCli 80 --scan --pattern '{df_upgrade_journal.*').Count
    }

    It 'refuses a restore, naming Resume and Undo, and writes nothing' {
        $err = $null
        try { Restore-DfNbDatabase -Database $db -Path $saved -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CommitInProgress*'
        $err.Exception.Message | Should -BeLike '*did not finish*Resume-DfMigration*Undo-DfMigration*'
        Compare-NbDump (Get-NbDump 80) $interrupted | Should -BeNullOrEmpty
        Invoke-RedisCli 80 EXISTS $CommitMarker | Should -Be '1'
        $journal | Should -BeGreaterThan 0
        @(Invoke-RedisCli 80 --scan --pattern '{df_upgrade_journal.*').Count | Should -Be $journal
    }

    It 'backs it up with a warning that the backup is of a half-migrated database, and writes nothing' {
        $path = Join-Path $TestDrive "half-$([guid]::NewGuid()).jsonl.gz"
        $b = Backup-DfNbDatabase -Database $db -Path $path -WarningVariable warnings 3>$null
        $b.Path | Should -Be $path
        $warnings | Should -Match 'interrupted migration commit: this backup is of a half-migrated database'
        Compare-NbDump (Get-NbDump 80) $interrupted | Should -BeNullOrEmpty
        Invoke-RedisCli 80 EXISTS $CommitMarker | Should -Be '1'
        @(Invoke-RedisCli 80 --scan --pattern '{df_upgrade_journal.*').Count | Should -Be $journal
    }

    It 'restores with -Force and discards the interrupted run''s journal, saying so' {
        Invoke-RedisCli 80 EXISTS $CommitMarker | Should -Be '1' -Because 'the commit is still the interrupted one'
        Restore-DfNbDatabase -Database $db -Path $saved -Force -Confirm:$false -WarningVariable warnings 3>$null | Out-Null
        $warnings | Should -Match 'Discarded the journal of the interrupted migration run'
        Compare-NbDump (Get-NbDump 80) $original | Should -BeNullOrEmpty
        Invoke-RedisCli 80 EXISTS $CommitMarker | Should -Be '0'
        @(Invoke-RedisCli 80 --scan --pattern '{df_upgrade_journal.*').Count | Should -Be 0
        Resume-DfMigration -Database $db -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -BeLike 'NoUpgradeRun*'
    }
}

Describe 'An interrupted Undo-DfMigration' {
    # The undo runs in a child process over the stepped store, which pauses after each write
    # (the "undoing" marker, then each batch of 1,000 restored objects) for the kill to land there.
    It 'is refused by every other writer until Undo-DfMigration runs again and finishes it, killed with <Stage>' -ForEach @(
        @{ Stage = 'the undoing marker stored, no object restored yet'; Index = 81; PauseMs = 4000; RestoredAtLeast = 0; RestoredBelow = 1 }
        @{ Stage = 'some objects restored, not all'; Index = 85; PauseMs = 1500; RestoredAtLeast = 1; RestoredBelow = 3000 }
    ) {
        # 2,970 ports and 30 switches: the undo restores them in 3 batches.
        $db = New-TestRedis $Index
        New-SeedCommands 2970 | redis-cli -h $RedisHost -p $RedisPort -n $Index | Out-Null
        $original = Get-NbDump $Index
        $saved = Join-Path $TestDrive "saved-$Index.jsonl.gz"
        Backup-DfNbDatabase -Database $db -Path $saved | Out-Null
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false | Out-Null
        Get-RewrittenCount $Index | Should -Be 3000

        $child = Start-UndoProcess $db -PauseMs $PauseMs
        try {
            Wait-RedisKey $Index $CommitMarker -Process $child
            if ($RestoredAtLeast -gt 0) { Wait-Restored $Index (3000 - $RestoredAtLeast) -Process $child }
        }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
        # Where the kill landed.
        $child.ExitCode | Should -Be 137 -Because 'the undo should still have been running when it was killed'
        Invoke-RedisCli $Index GET $CommitMarker | Should -Match '"state":\s*"undoing"' -Because 'the kill should land after the undo stored its marker'
        $restored = 3000 - (Get-RewrittenCount $Index)
        $restored | Should -BeGreaterOrEqual $RestoredAtLeast
        $restored | Should -BeLessThan $RestoredBelow -Because "the kill should land in the stage '$Stage'"
        $interrupted = Get-NbDump $Index

        # Every other writer: refused, naming Undo-DfMigration, and the data left as the kill left it.
        # (A migration run is given one that is pending whatever the undo restored: with nothing
        # pending, Invoke-DfMigration writes nothing and checks nothing.)
        $later = Join-Path $TestDrive "later-$Index"
        New-MigrationFile $later 'later.ps1' 'later' '2018-07-01T00:00:00Z' $FlagComputePorts | Out-Null
        $refusals = @(
            { Invoke-DfMigration -Database $db -MigrationPath $folder, $later -Confirm:$false }
            { Resume-DfMigration -Database $db -Confirm:$false }
            { Restore-DfNbDatabase -Database $db -Path $saved -Confirm:$false }
            { Set-DfMigrationBaseline -Database $db -Release queens -Confirm:$false }
        )
        foreach ($writer in $refusals) {
            $err = $null
            try { & $writer | Out-Null } catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty -Because "$writer should be refused"
            $err.FullyQualifiedErrorId | Should -BeLike 'CommitInProgress*' -Because "$writer should be refused"
            $err.Exception.Message | Should -BeLike "An undo of migration run * on $db was interrupted. Run Undo-DfMigration -Database $db again to finish it."
            Compare-NbDump (Get-NbDump $Index) $interrupted | Should -BeNullOrEmpty -Because "$writer should write nothing"
        }
        Invoke-RedisCli $Index GET $CommitMarker | Should -Match '"state":\s*"undoing"'

        $undone = Undo-DfMigration -Database $db -Confirm:$false
        $undone.Applied | Should -BeTrue
        Compare-NbDump (Get-NbDump $Index) $original | Should -BeNullOrEmpty
        Invoke-RedisCli $Index EXISTS $CommitMarker | Should -Be '0'
        @(Invoke-RedisCli $Index --scan --pattern '{df_upgrade_journal.*').Count | Should -Be 0
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending).Id | Should -Contain 'bump'
    }
}

Describe 'Undo-DfMigration and the backup its run made' {
    It 'refuses a file at the backup''s path that is another backup, naming both checksums, and writes nothing' {
        $db = New-TestRedis 82
        Add-Ports 82
        $backup = Join-Path $TestDrive "run-$([guid]::NewGuid()).jsonl.gz"
        Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false | Out-Null
        $expected = (bash -c "gzip -dc '$backup' | head -n 1" | ConvertFrom-Json).header.checksum
        # A sound backup, of the database as the run left it, put where the run's own was.
        $other = Backup-DfNbDatabase -Database $db -Path $backup -Force -WarningAction SilentlyContinue
        $before = Get-RedisDump 82
        $err = $null
        try { Undo-DfMigration -Database $db -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupInvalid*'
        $err.Exception.Message | Should -BeLike "*this is not the backup expected: its checksum is $($other.Checksum), not $expected*"
        Get-RedisDump 82 | Should -BeExactly $before
    }
}

Describe 'Unlock-DfNbDatabase -Force' {
    It 'refuses to break the lock of a process of this machine that still runs, and leaves the lock' {
        $db = New-TestRedis 83
        $holder = Start-Process sleep -ArgumentList 120 -PassThru
        try {
            $json = @{ host = [Environment]::MachineName; pid = $holder.Id; user = 'ops'; purpose = 'Invoke-DfMigration'; token = 'live-holder'
                started_at = [DateTime]::UtcNow.ToString('o'); expires_at = [DateTime]::UtcNow.AddHours(1).ToString('o') } | ConvertTo-Json -Compress
            Invoke-RedisCli 83 SET $LockKey $json PX 3600000 | Out-Null
            { Unlock-DfNbDatabase -Database $db -Force -Confirm:$false } | Should -Throw "*process $($holder.Id)*still runs: stop it rather than break its lock*"
            (Get-DfUpgradeLock -Database $db).ProcessId | Should -Be $holder.Id
        }
        finally { $holder.Kill(); $holder.WaitForExit() }
        # Once the process is gone, -Force breaks it.
        (Unlock-DfNbDatabase -Database $db -Force -Confirm:$false -PassThru).ProcessId | Should -Be $holder.Id
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-DfMigration''s default backup folder' {
    BeforeAll { $home0 = $env:HOME }
    BeforeEach {
        # The home folder of these runs: the test drive, not the user's.
        $env:HOME = Join-Path $TestDrive "home-$([guid]::NewGuid())"
        New-Item -ItemType Directory $env:HOME | Out-Null
    }
    AfterEach { $env:HOME = $home0 }

    It 'is df-backups in the home folder for a <Store> database' -ForEach @(
        @{ Store = 'Redis' }
        @{ Store = 'etcd' }
    ) {
        if ($Store -eq 'Redis') {
            $db = New-TestRedis 84
            Add-Ports 84
        }
        else {
            Invoke-EtcdGateway kv/deleterange @{ key = "`0"; range_end = "`0" } | Out-Null
            $db = "etcd://$env:DF_TEST_ETCD"
            foreach ($port in (New-Port 'p1' 't1'), (New-Port 'p2' 't2')) {
                Invoke-EtcdGateway kv/put @{ key = "/lport/$($port.id)"; value = ($port.value | ConvertTo-Json -Compress) } | Out-Null
            }
        }
        $written = (Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $null -Confirm:$false | Where-Object Id -eq 'bump').BackupPath
        Split-Path $written | Should -Be (Join-Path $env:HOME 'df-backups')
        $written | Should -Exist
        (Split-Path $written -Leaf) | Should -BeLike '*.jsonl.gz'
        (Get-DfNbTable -Database $written | Where-Object Table -eq lport).Count | Should -BeGreaterThan 1
    }
}
