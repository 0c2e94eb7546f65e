# A migration process killed with SIGKILL part way through its commit, a Redis restarted under
# it, and two runs at once. The migrating process is a child pwsh; its store, wrapped in the
# tests' SteppedStore, holds after each write step until the test lets it go on, so that the
# kills land at known stages of the commit however loaded the machine is.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    Get-SteppedStoreAssembly | Out-Null   # compiled before any child needs it

    $folder = Join-Path $TestDrive 'migrations'
    New-MigrationFile $folder 'bump.ps1' 'bump-every-object' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null

    # 19,800 ports and 198 switches: 19,998 objects that the migration all rewrites, plus the log rows.
    $seedDb = 38
    $seed = New-SeedCommands 19800
    Invoke-RedisCli $seedDb FLUSHDB | Out-Null
    $seed | redis-cli -h $RedisHost -p $RedisPort -n $seedDb | Out-Null
    $original = Get-NbDump $seedDb

    # What a whole run makes of a dump, worked out without the module: every object at version 2
    # (the values are written as Dragonflow writes them, so only that number changes), plus the
    # log rows of the migration and of the shipped ones, which a database without a log has
    # pending too (they find nothing to change in these objects).
    function Get-BumpedDump([string[]] $Dump) {
        $logged = 'bump-every-object', 'queens-lport-switch-topic', 'queens-dhcp-port-per-network', 'queens-floatingip-drop-name', 'queens-subnet-first-order-model'
        @($Dump | ForEach-Object { $_.Replace('"version": 1}', '"version": 2}') }) + @($logged | ForEach-Object { "{schema_migration_log.}.$_" })
    }
    $migrated = Get-BumpedDump $original
}

Describe 'A migration killed part way through its commit' {
    # The child holds after each write of its commit; the test lets it go on one write at a time
    # and kills it, held, after the first write at which its stage is reached (seen from outside).
    It 'leaves a database that Resume brings to exactly the migrated content and Undo to exactly the original, killed with <Stage>' -ForEach @(
        @{ Stage = 'the journal and marker stored, no data yet'; AtLeast = 0; Below = 1 }
        @{ Stage = 'some of the data'; AtLeast = 1; Below = 9999 }
        @{ Stage = 'about half the data'; AtLeast = 9999; Below = 19998 }
        @{ Stage = 'most of the data, not the last batches'; AtLeast = 15000; Below = 19998 }
        @{ Stage = 'all the data written, the commit finishing or finished'; AtLeast = 19998; Below = 19999 }
    ) {
        $db = 30; $twin = 31
        Copy-RedisDatabase $seedDb $db
        $backup = "$TestDrive/kill-$AtLeast.jsonl.gz"
        $hold = New-Item -ItemType Directory "$TestDrive/hold-$AtLeast" -Force
        $child = Start-MigrationProcess "redis://$Endpoint/$db" $folder $backup -HoldFolder $hold.FullName
        try {
            $reached = { (Invoke-RedisCli $db EXISTS $CommitMarker) -eq '1' -and (Get-RewrittenCount $db) -ge $AtLeast }
            Stop-AtWrite $child $hold.FullName $reached | Out-Null
        }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }   # a failed wait leaves no run behind
        $rewritten = Get-RewrittenCount $db
        $rewritten | Should -BeGreaterOrEqual $AtLeast
        $rewritten | Should -BeLessThan $Below -Because "the kill should land in the stage '$Stage'"
        $midCommit = (Invoke-RedisCli $db EXISTS $CommitMarker) -eq '1'
        if ($Below -le 19998) { $midCommit | Should -BeTrue }
        Copy-RedisDatabase $db $twin

        if ($midCommit) {
            $err = $null
            try { Invoke-DfMigration -Database "redis://$Endpoint/$db" -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'CommitInProgress*'
            $err.Exception.Message | Should -BeLike '*Resume-DfMigration*Undo-DfMigration*'
            $resumed = Resume-DfMigration -Database "redis://$Endpoint/$db" -Confirm:$false
            $resumed.BackupPath | Should -Be $backup
        }
        else {
            Resume-DfMigration -Database "redis://$Endpoint/$db" -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].FullyQualifiedErrorId | Should -BeLike 'NoUpgradeRun*'
        }
        Compare-NbDump (Get-NbDump $db) $migrated | Should -BeNullOrEmpty
        Get-DfUpgradeLock -Database "redis://$Endpoint/$db" | Should -BeNullOrEmpty
        Invoke-RedisCli $db EXISTS $CommitMarker | Should -Be '0'

        Undo-DfMigration -Database "redis://$Endpoint/$twin" -Confirm:$false | Out-Null
        Compare-NbDump (Get-NbDump $twin) $original | Should -BeNullOrEmpty
        Get-DfUpgradeLock -Database "redis://$Endpoint/$twin" | Should -BeNullOrEmpty
        Invoke-RedisCli $twin EXISTS $CommitMarker | Should -Be '0'
        @(Invoke-RedisCli $twin --scan --pattern '{df_upgrade_journal.*').Count | Should -Be 0
    }

    It 'before its commit leaves the database as it was, and the next run takes over the dead run''s lock' {
        $db = 32
        Copy-RedisDatabase $seedDb $db
        $child = Start-MigrationProcess "redis://$Endpoint/$db" $folder "$TestDrive/early.jsonl.gz"
        try { Wait-RedisKey $db $LockKey -Process $child }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }   # a failed wait leaves no run behind
        # Where the kill landed: the lock taken, the commit not begun (no marker, no journal, no object rewritten).
        $child.ExitCode | Should -Be 137 -Because 'the run should still have been running when it was killed'
        Invoke-RedisCli $db EXISTS $CommitMarker | Should -Be '0' -Because 'the kill should land before the commit began'
        @(Invoke-RedisCli $db --scan --pattern '{df_upgrade_journal.*').Count | Should -Be 0 -Because 'the kill should land before the journal was stored'
        Get-RewrittenCount $db | Should -Be 0 -Because 'the kill should land before any object was written'
        Compare-NbDump (Get-NbDump $db) $original | Should -BeNullOrEmpty
        (Get-DfUpgradeLock -Database "redis://$Endpoint/$db").OwnerGone | Should -BeTrue
        Invoke-DfMigration -Database "redis://$Endpoint/$db" -MigrationPath $folder -BackupPath "$TestDrive/early-2.jsonl.gz" -Confirm:$false | Out-Null
        Compare-NbDump (Get-NbDump $db) $migrated | Should -BeNullOrEmpty
    }
}

Describe 'Two runs at once' {
    It 'lets one proceed and refuses the other, naming the holder' {
        $db = 33
        Copy-RedisDatabase $seedDb $db
        $child = Start-MigrationProcess "redis://$Endpoint/$db" $folder "$TestDrive/first.jsonl.gz" -PauseMs 100
        Wait-RedisKey $db $LockKey -Process $child
        $err = $null
        try { Invoke-DfMigration -Database "redis://$Endpoint/$db" -MigrationPath $folder -BackupPath "$TestDrive/second.jsonl.gz" -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
        $err.Exception.Message | Should -BeLike "*Invoke-DfMigration (process $($child.Id) *"
        Test-Path "$TestDrive/second.jsonl.gz" | Should -BeFalse
        $child.WaitForExit(120000) | Should -BeTrue
        $child.ExitCode | Should -Be 0
        Compare-NbDump (Get-NbDump $db) $migrated | Should -BeNullOrEmpty
    }
}

Describe 'A Redis restarted in the middle of a commit' {
    BeforeAll {
        # A Redis of this test's own, persistent (AOF), on a port that was free when it started:
        # it is used, shut down and restarted only once INFO shows it is the process started here.
        $dir = Join-Path $TestDrive 'own-redis'
        New-Item -ItemType Directory $dir | Out-Null
        function Start-OwnRedis([int] $Port) {
            $arguments = @('--port', $Port, '--bind', '127.0.0.1', '--save', '""', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', $dir, '--daemonize', 'no')
            $p = Start-Process $env:DF_TEST_REDIS_SERVER -ArgumentList $arguments -PassThru -RedirectStandardOutput "$dir/log-$([guid]::NewGuid()).txt"
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while ((redis-cli -p $Port ping 2>$null) -ne 'PONG') {
                if ($p.HasExited -or [DateTime]::UtcNow -gt $deadline) { return $null }
                Start-Sleep -Milliseconds 50
            }
            $answering = (redis-cli -p $Port INFO server | Select-String '^process_id:(\d+)').Matches.Groups[1].Value
            if ($answering -ne "$($p.Id)") {
                if (-not $p.HasExited) { $p.Kill(); $p.WaitForExit() }
                return $null
            }
            $p
        }
        function Get-FreePort {
            $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
            $listener.Start()
            try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
        }
        $state = @{ Server = $null }
        for ($attempt = 0; -not $state.Server -and $attempt -lt 5; $attempt++) {
            $port = Get-FreePort
            $state.Server = Start-OwnRedis $port
        }
        if (-not $state.Server) { throw "Could not start a redis-server of this test's own on a free port; see $dir." }
        $own = "127.0.0.1:$port"
        $seed | Select-Object -First 5050 | redis-cli -p $port -n 0 | Out-Null

        # The content a whole run gives, worked out from the same objects.
        $expected = Get-BumpedDump (Get-NbDump 0 -Endpoint $own)
    }

    AfterAll {
        if ($state.Server -and -not $state.Server.HasExited) { $state.Server.Kill(); $state.Server.WaitForExit() }
    }

    It 'stops the run with a clear error, and Resume-DfMigration then finishes the commit' {
        # The shutdown follows the commit's first step (its journal and marker) at once, and long
        # pauses between the steps keep it inside the commit even on a loaded machine.
        $child = Start-MigrationProcess "redis://$own/0" $folder "$TestDrive/restart.jsonl.gz" -PauseMs 1000
        Wait-RedisKey 0 $CommitMarker -Endpoint $own -Process $child
        redis-cli -p $port SHUTDOWN | Out-Null
        $state.Server.WaitForExit(10000) | Out-Null
        $child.WaitForExit(60000) | Should -BeTrue
        $child.ExitCode | Should -Be 3
        $message = Get-Content $child.OutputFile -Raw
        $message | Should -BeLike "*CommitInterrupted,*redis://$own/0 was interrupted after*Resume-DfMigration*The cause: Could not write*"
        # Where the shutdown landed: inside the commit, before its last change.
        $m = [regex]::Match($message, 'interrupted after (\d+) of (\d+) changes')
        $m.Success | Should -BeTrue
        [int]$m.Groups[1].Value | Should -BeLessThan ([int]$m.Groups[2].Value) -Because 'the shutdown should land before the commit wrote its last change'

        $state.Server = Start-OwnRedis $port
        if (-not $state.Server) { throw "Port $port was taken while this test's redis-server was down; run the test again." }
        (redis-cli -p $port EXISTS $CommitMarker) | Should -Be '1'
        Resume-DfMigration -Database "redis://$own/0" -Confirm:$false | Out-Null
        Compare-NbDump (Get-NbDump 0 -Endpoint $own) $expected | Should -BeNullOrEmpty
        (redis-cli -p $port EXISTS $CommitMarker) | Should -Be '0'
    }
}
