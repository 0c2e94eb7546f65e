# One set of cases over every kind of NB database: the embedded file, a single Redis, a Redis
# Cluster, a Redis Cluster over TLS (with a client certificate), etcd and an etcd cluster. Each case starts from the Pike sample (tests/fixtures), seeded through a
# backup of it, and reads the result back through a backup, so that the same expectation (what
# Dragonflow 5.0.0 stores, written apart from the module) holds on every store.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/FixtureSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    . "$PSScriptRoot/ClusterSupport.ps1"
    Get-SteppedStoreAssembly | Out-Null   # compiled before any child needs it
    $fixture = "$PSScriptRoot/../fixtures/pike-nb.jsonl"
    $queensExpected = Read-NbFile "$PSScriptRoot/../fixtures/queens-expected.jsonl"
    $pikeObjects = Read-NbFile $fixture
    # The sample as a backup, which Restore-DfNbDatabase -Force writes into any database.
    $sampleCopy = Join-Path $TestDrive 'sample.jsonl'
    Copy-Item $fixture $sampleCopy
    $sample = Join-Path $TestDrive 'sample-backup.jsonl.gz'
    Backup-DfNbDatabase -Database $sampleCopy -Path $sample -Confirm:$false | Out-Null

    # An empty database of each kind; a file database is the sample copied.
    function New-StoreDatabase([string] $Store) {
        switch ($Store) {
            'file' { $db = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl"; Copy-Item $fixture $db; return $db }
            'redis' { $db = New-TestRedis 60 }
            'redis-cluster' { $db = Clear-TestRedisCluster }
            'rediss-cluster' { $db = Clear-TestRedisClusterTls }
            'etcd' { Invoke-EtcdGateway kv/deleterange @{ key = "`0"; range_end = "`0" } | Out-Null; $db = "etcd://$env:DF_TEST_ETCD" }
            'etcd-cluster' {
                Invoke-EtcdGateway kv/deleterange @{ key = "`0"; range_end = "`0" } -Endpoint ($env:DF_TEST_ETCD_CLUSTER -replace '^etcd://' -split ',')[0] | Out-Null
                $db = $env:DF_TEST_ETCD_CLUSTER
            }
        }
        Restore-DfNbDatabase -Database $db -Path $sample -Force -Confirm:$false | Out-Null
        $db
    }

    # The NB objects of a database (the module's own tables left out), read through a backup.
    function Read-StoreObjects([string] $Database) {
        $path = Join-Path $TestDrive "read-$([guid]::NewGuid()).jsonl.gz"
        Backup-DfNbDatabase -Database $Database -Path $path -Confirm:$false | Out-Null
        Read-NbFile $path -Exclude $ModuleTables
    }

    # Objects keyed as a store can tell them apart: etcd's keys, /table/id, hold no topic (a value may).
    function Select-Held($Objects, [string] $Store) {
        if ($Store -notlike 'etcd*') { return $Objects }
        $held = [Collections.Generic.SortedDictionary[string, string]]::new([StringComparer]::Ordinal)
        foreach ($entry in $Objects.GetEnumerator()) { $held[($entry.Key -replace '^([^/]*)/.*/([^/]*)$', '$1//$2')] = $entry.Value }
        $held
    }
}

Describe 'The Pike to Queens upgrade on a <Store> NB database' -ForEach @(
    @{ Store = 'file' }
    @{ Store = 'redis' }
    @{ Store = 'redis-cluster' }
    @{ Store = 'rediss-cluster' }
    @{ Store = 'etcd' }
    @{ Store = 'etcd-cluster' }
) {
    BeforeEach {
        $db = New-StoreDatabase $Store
        Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false | Out-Null
    }

    It 'holds the sample as the file holds it' {
        Compare-NbObjects (Select-Held (Read-StoreObjects $db) $Store) (Select-Held $pikeObjects $Store) | Should -BeNullOrEmpty
    }

    It 'upgrades the sample in one run to exactly what Dragonflow 5.0.0 stores, and releases the lock' {
        $rows = Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false 3>$null
        $rows.Kind | Should -Be @('Migration', 'Migration', 'Migration', 'Migration', 'Schema')
        Compare-NbObjects (Select-Held (Read-StoreObjects $db) $Store) (Select-Held $queensExpected $Store) | Should -BeNullOrEmpty
        (Get-DfMigrationLog -Database $db | Where-Object Kind -eq Schema).Release | Should -Be 'queens'
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'is refused while another run holds the lock, naming the holder, and writes nothing' {
        $opened = [DragonflowUpgrade.Engine.Store.NbStoreFactory]::Open($db)
        $lock = [DragonflowUpgrade.Engine.Safety.UpgradeLock]::Acquire($opened, 'Restore-DfNbDatabase')
        try {
            $err = $null
            try { Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false 3>$null } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
            $err.Exception.Message | Should -BeLike "*Restore-DfNbDatabase (process $PID *"
        }
        finally { $lock.Dispose(); $opened.Dispose() }
        Compare-NbObjects (Select-Held (Read-StoreObjects $db) $Store) (Select-Held $pikeObjects $Store) | Should -BeNullOrEmpty
    }

    It 'is taken back to exactly the sample by Undo-DfMigration, and by a restore of its backup' {
        $backup = Join-Path $TestDrive "run-$([guid]::NewGuid()).jsonl.gz"
        Invoke-DfMigration -Database $db -TargetRelease queens -BackupPath $backup -Confirm:$false 3>$null | Out-Null
        Undo-DfMigration -Database $db -Confirm:$false | Out-Null
        Compare-NbObjects (Select-Held (Read-StoreObjects $db) $Store) (Select-Held $pikeObjects $Store) | Should -BeNullOrEmpty
        Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false 3>$null | Out-Null
        Restore-DfNbDatabase -Database $db -Path $backup -Force -Confirm:$false | Out-Null
        Compare-NbObjects (Select-Held (Read-StoreObjects $db) $Store) (Select-Held $pikeObjects $Store) | Should -BeNullOrEmpty
    }

    It 'killed after the first batch of its commit is finished by Resume-DfMigration to exactly what Dragonflow 5.0.0 stores' {
        $hold = New-Item -ItemType Directory (Join-Path $TestDrive "hold-$([guid]::NewGuid())")
        # Killed held after the marker: on a server, write 3 (the record naming the journal, its rows, the
        # marker); in a file, which keeps no journal inside, write 2 (the marker and the data).
        $atWrite = if ($Store -eq 'file') { 2 } else { 3 }
        $none = New-Item -ItemType Directory (Join-Path $TestDrive "none-$([guid]::NewGuid())")
        $child = Start-MigrationProcess $db $none.FullName (Join-Path $TestDrive "killed-$([guid]::NewGuid()).jsonl.gz") -HoldFolder $hold.FullName -TargetRelease queens
        try { Stop-AtWrite $child $hold.FullName { $n -ge $atWrite } | Out-Null }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
        $err = $null
        try { Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false 3>$null } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CommitInProgress*'
        Resume-DfMigration -Database $db -Confirm:$false | Out-Null
        Compare-NbObjects (Select-Held (Read-StoreObjects $db) $Store) (Select-Held $queensExpected $Store) | Should -BeNullOrEmpty
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }
}

Describe 'A Redis Cluster master killed in the middle of a commit' {
    BeforeAll {
        $db = Clear-TestRedisCluster
        $folder = Join-Path $TestDrive 'bump'
        New-MigrationFile $folder 'bump.ps1' 'bump-every-object' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null
        # 5,000 ports in 7 topics and 50 switches, over the three masters (redis-cli -c follows the slots).
        New-SeedCommands 5000 | redis-cli -c -h 127.0.0.1 -p (Get-TestRedisClusterPorts)[0] | Out-Null
        Set-DfMigrationBaseline -Database $db -Release queens -Confirm:$false | Out-Null
        $original = Read-StoreObjects $db
        $original.Count | Should -Be 5050
        # What a whole run gives, worked out without the module: every object at version 2.
        $expected = [Collections.Generic.SortedDictionary[string, string]]::new([StringComparer]::Ordinal)
        foreach ($entry in $original.GetEnumerator()) { $expected[$entry.Key] = $entry.Value.Replace('"version":1', '"version":2') }
    }

    AfterAll { Restore-TestRedisCluster }

    It 'stops the run with NbClusterChanged naming the master, and Resume-DfMigration finishes it once a replica has taken over' {
        $hold = New-Item -ItemType Directory (Join-Path $TestDrive 'hold-kill')
        $child = Start-MigrationProcess $db $folder (Join-Path $TestDrive 'kill.jsonl.gz') -HoldFolder $hold.FullName
        $victim = $null
        try {
            # Held after write 5 (the journal's two writes, the marker, two batches of data): the master of {lport.t1}
            # is killed once its replica has every write, then the child goes on.
            $deadline = [DateTime]::UtcNow.AddSeconds(300)
            for ($n = 1; $n -lt 5; $n++) {
                while (-not (Test-Path (Join-Path $hold "held-$n"))) {
                    if ($child.HasExited) { throw "The child ended before write $n`: $(Get-Content $child.OutputFile -Raw)" }
                    if ([DateTime]::UtcNow -gt $deadline) { throw "The child did not reach write $n." }
                    Start-Sleep -Milliseconds 10
                }
                New-Item -ItemType File (Join-Path $hold "go-$n") | Out-Null
            }
            while (-not (Test-Path (Join-Path $hold 'held-5'))) {
                if ($child.HasExited) { throw "The child ended before write 5: $(Get-Content $child.OutputFile -Raw)" }
                Start-Sleep -Milliseconds 10
            }
            $victim = Get-TestRedisClusterMaster '{lport.t1}.p1'
            Wait-TestRedisClusterReplicated $victim
            kill -9 (Get-Content (Join-Path $env:DF_TEST_REDIS_CLUSTER_DIR "$victim/node.pid"))
            New-Item -ItemType File (Join-Path $hold 'go-on') | Out-Null
            $child.WaitForExit(120000) | Should -BeTrue
        }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
        $child.ExitCode | Should -Be 3
        $message = Get-Content $child.OutputFile -Raw
        $message | Should -BeLike "*CommitInterrupted,*was interrupted after*The cause: The Redis Cluster at redis-cluster://*changed under the write*master 127.0.0.1:$victim (slots *"

        Wait-TestRedisClusterOk
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'CommitInProgress*'
        Resume-DfMigration -Database $db -Confirm:$false | Out-Null
        Compare-NbObjects (Read-StoreObjects $db) $expected | Should -BeNullOrEmpty
        (Get-DfMigrationLog -Database $db).Id | Should -Contain 'bump-every-object'
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }
}
