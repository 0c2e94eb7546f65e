BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"

    function Add-Ports([int] $Index) {
        Add-RedisObjects $Index @(New-Port 'p1' 't1'; New-Port 'p2' 't1' 'network:dhcp'; New-Port 'p3' 't2')
    }
    function New-Bump([string] $Folder) {
        New-MigrationFile $Folder 'bump.ps1' 'bump' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null
    }
    function Set-LockHeldElsewhere([int] $Index) {
        $json = @{ host = 'controller-2'; pid = 4242; user = 'ops'; purpose = 'Invoke-DfMigration'; token = 'elsewhere'
            started_at = [DateTime]::UtcNow.AddMinutes(-1).ToString('o'); expires_at = [DateTime]::UtcNow.AddHours(1).ToString('o') } | ConvertTo-Json -Compress
        Invoke-RedisCli $Index SET $LockKey $json PX 3600000 | Out-Null
    }
    function Get-EpochSeconds([double] $Ago) { [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() / 1000 - $Ago }
}

Describe 'The upgrade lock' {
    BeforeEach {
        $db = New-TestRedis 35
        Add-Ports 35
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-Bump $folder
    }
    AfterEach { Unlock-DfNbDatabase -Database $db -Force -Confirm:$false -ErrorAction SilentlyContinue }

    It 'is shown with its holder, and lets this session''s runs through while it holds it' {
        $lock = Lock-DfNbDatabase -Database $db -Purpose 'cloud upgrade' -Expiry ([TimeSpan]::FromMinutes(10))
        $lock.ProcessId | Should -Be $PID
        $shown = Get-DfUpgradeLock -Database $db
        $shown.Purpose | Should -Be 'cloud upgrade'
        $shown.HeldBySession | Should -BeTrue
        $shown.ExpiresAt | Should -BeGreaterThan ([DateTime]::UtcNow.AddMinutes(9))
        (Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath "$TestDrive/$([guid]::NewGuid()).jsonl.gz" -Confirm:$false).Id | Should -Contain 'bump'
        (Get-DfUpgradeLock -Database $db).Purpose | Should -Be 'cloud upgrade'
        Unlock-DfNbDatabase -Database $db -Confirm:$false
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'refuses a run while another host holds it, naming the holder, and writes nothing' {
        Set-LockHeldElsewhere 35
        $before = Get-NbDump 35
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
        $err.Exception.Message | Should -BeLike '*Invoke-DfMigration (process 4242 of ops on controller-2*Unlock-DfNbDatabase -Force*'
        Compare-NbDump (Get-NbDump 35) $before | Should -BeNullOrEmpty
    }

    It 'is broken only with -Force when another process holds it' {
        Set-LockHeldElsewhere 35
        { Unlock-DfNbDatabase -Database $db -Confirm:$false } | Should -Throw '*locked by*controller-2*'
        (Get-DfUpgradeLock -Database $db).Host | Should -Be 'controller-2'
        (Unlock-DfNbDatabase -Database $db -Force -Confirm:$false -PassThru).Host | Should -Be 'controller-2'
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'refuses runs while a lock that does not read as one is held, naming no secret in it, and is broken with -Force' {
        Invoke-RedisCli 35 SET $LockKey '{"pid": tru, "token": "hunter2-SECRET"}' | Out-Null
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
        $err.Exception.Message | Should -BeLike '*a lock at * that is not valid JSON (at byte 11)*Unlock-DfNbDatabase -Force*'
        ($err | Out-String) + $err.Exception.ToString() | Should -Not -BeLike '*hunter2-SECRET*'
        Unlock-DfNbDatabase -Database $db -Force -Confirm:$false
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'with -Force discards the record of an upgrade under way that no lock holds' {
        Invoke-RedisCli 35 SET '{df_upgrade_run.}.under-way' '{"upgrade": "u-1"' | Out-Null
        Unlock-DfNbDatabase -Database $db -Force -Confirm:$false
        Invoke-RedisCli 35 EXISTS '{df_upgrade_run.}.under-way' | Should -Be 0
    }
}

Describe 'Invoke-DfMigration and a live control plane' {
    BeforeEach {
        $db = New-TestRedis 36
        Add-Ports 36
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-Bump $folder
    }

    It 'refuses while a Dragonflow service reported in within service_down_time, naming it' {
        Add-RedisObjects 36 @(@{ table = 'service'; topic = ''; id = 'svc1'; value = @{ id = 'svc1'; chassis = 'compute-1'; binary = 'df-local-controller'; last_seen_up = (Get-EpochSeconds 5) } })
        $before = Get-NbDump 36
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'ControlPlaneAlive*'
        $err.Exception.Message | Should -BeLike '*service df-local-controller on compute-1, last seen*run Invoke-DfMigration with -IgnoreLiveControlPlane*'
        Compare-NbDump (Get-NbDump 36) $before | Should -BeNullOrEmpty
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'refuses while a Neutron server''s listener is fresh' {
        Add-RedisObjects 36 @(@{ table = 'listener'; topic = 'listener_ctl-1'; id = 'ctl-1'; value = @{ id = 'ctl-1'; timestamp = (Get-EpochSeconds 20); ppid = 77 } })
        { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } | Should -Throw '*Neutron server ctl-1 (process 77)*'
    }

    It 'migrates with -Force, warning about what still runs' {
        Add-RedisObjects 36 @(@{ table = 'service'; topic = ''; id = 'svc1'; value = @{ id = 'svc1'; chassis = 'compute-1'; binary = 'df-l3-agent'; last_seen_up = (Get-EpochSeconds 5) } })
        $out = Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath "$TestDrive/$([guid]::NewGuid()).jsonl.gz" -Force -Confirm:$false -WarningVariable warnings 3>$null
        $out.Id | Should -Contain 'bump'
        $warnings | Should -Match 'df-l3-agent on compute-1'
    }

    It 'lets a service through that stopped reporting longer ago than -ServiceDownTime' {
        Add-RedisObjects 36 @(@{ table = 'service'; topic = ''; id = 'svc1'; value = @{ id = 'svc1'; chassis = 'compute-1'; binary = 'df-local-controller'; last_seen_up = (Get-EpochSeconds 30) } })
        { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } | Should -Throw '*df-local-controller*'
        (Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath "$TestDrive/$([guid]::NewGuid()).jsonl.gz" -ServiceDownTime 20 -Confirm:$false).Id | Should -Contain 'bump'
    }
}

Describe 'Backup-DfNbDatabase and Restore-DfNbDatabase' {
    BeforeEach {
        $db = New-TestRedis 37
        # Stored values as Dragonflow and others write them: spacing, escapes, a bare counter.
        @(
            'SET "{lport.t1}.p1" "{\"id\":\"p1\",  \"name\": \"caf\\u00e9\", \"version\": 3}"'
            'SET "{lswitch.t1}.s1" "{\"id\": \"s1\", \"mtu\": 1450.0 }"'
            'SET "{unique_key.}.lport" "17"'
        ) | redis-cli -h $RedisHost -p $RedisPort -n 37 | Out-Null
        $path = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz"
    }

    It 'round-trips every stored value byte for byte' {
        $before = Get-RedisDump 37
        $backup = Backup-DfNbDatabase -Database $db -Path $path
        $backup.Objects | Should -Be 3
        Invoke-RedisCli 37 DEL '{lport.t1}.p1' | Out-Null
        Invoke-RedisCli 37 SET '{lswitch.t1}.s1' '{"id": "s1"}' | Out-Null
        Invoke-RedisCli 37 SET '{lport.t9}.extra' '{"id": "extra"}' | Out-Null
        $r = Restore-DfNbDatabase -Database $db -Path $path -Confirm:$false
        ($r.Created, $r.Updated, $r.Deleted, $r.Unchanged) | Should -Be @(1, 1, 1, 1)
        Get-RedisDump 37 | Should -BeExactly $before
    }

    It 'writes a file readable by its owner only, whose header names the source, count and checksum' {
        $backup = Backup-DfNbDatabase -Database $db -Path $path
        (Get-Item $path).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite')
        $gz = [IO.Compression.GZipStream]::new([IO.File]::OpenRead($path), [IO.Compression.CompressionMode]::Decompress)
        $header = ([IO.StreamReader]::new($gz).ReadLine() | ConvertFrom-Json).header
        $gz.Dispose()
        $header.source | Should -Be $db
        $header.objects | Should -Be 3
        $header.checksum | Should -Be $backup.Checksum
        # The checksum is the SHA-256 of the object lines after the header, newlines included.
        $independent = (bash -c "gzip -dc '$path' | tail -n +2 | sha256sum").Split(' ')[0]
        $backup.Checksum | Should -BeExactly $independent
        $header.created_at | Should -Not -BeNullOrEmpty
        (Get-DfNbTable -Database $path).Table | Should -Be @('lport', 'lswitch', 'unique_key')
    }

    It 'refuses a truncated backup and leaves the database as it was' {
        Backup-DfNbDatabase -Database $db -Path $path | Out-Null
        $bytes = [IO.File]::ReadAllBytes($path)
        [IO.File]::WriteAllBytes($path, $bytes[0..($bytes.Length - 20)])
        Invoke-RedisCli 37 SET '{lport.t9}.extra' '{"id": "extra"}' | Out-Null
        $before = Get-RedisDump 37
        $err = $null
        try { Restore-DfNbDatabase -Database $db -Path $path -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'BackupInvalid*'
        $err.Exception.Message | Should -BeLike "$path*"
        Get-RedisDump 37 | Should -BeExactly $before
    }

    It 'refuses a backup whose content was edited' {
        Backup-DfNbDatabase -Database $db -Path $path | Out-Null
        $in = [IO.Compression.GZipStream]::new([IO.File]::OpenRead($path), [IO.Compression.CompressionMode]::Decompress)
        $text = [IO.StreamReader]::new($in).ReadToEnd()
        $in.Dispose()
        $out = [IO.Compression.GZipStream]::new([IO.File]::Create($path), [IO.Compression.CompressionLevel]::Fastest)
        $edited = [Text.Encoding]::UTF8.GetBytes($text.Replace('1450.0', '9000'))
        $out.Write($edited, 0, $edited.Length)
        $out.Dispose()
        { Restore-DfNbDatabase -Database $db -Path $path -Confirm:$false } | Should -Throw '*does not match the checksum*'
    }

    It 'with -WhatIf shows the counts and writes nothing' {
        Backup-DfNbDatabase -Database $db -Path $path | Out-Null
        Invoke-RedisCli 37 SET '{lport.t9}.extra' '{"id": "extra"}' | Out-Null
        $before = Get-RedisDump 37
        $r = Restore-DfNbDatabase -Database $db -Path $path -WhatIf
        $r.Applied | Should -BeFalse
        $r.Deleted | Should -Be 1
        $r.Unchanged | Should -Be 3
        Get-RedisDump 37 | Should -BeExactly $before
    }
}

Describe 'Invoke-DfMigration''s backup and Undo-DfMigration' {
    BeforeEach {
        $db = New-TestRedis 39
        Add-Ports 39
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-Bump $folder
        $backup = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz"
    }

    It 'backs the database up before its first write and names the backup in its output' {
        $before = Get-RedisDump 39
        $out = Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false
        ($out | Where-Object Id -eq 'bump').BackupPath | Should -Be $backup
        # The backup holds the database as it was: restoring it into an empty database gives it back.
        $empty = New-TestRedis 38
        Restore-DfNbDatabase -Database $empty -Path $backup -Force -Confirm:$false | Out-Null
        Get-RedisDump 38 | Should -BeExactly $before
    }

    It 'takes back a finished run, its log rows included' {
        $before = Get-RedisDump 39
        Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false | Out-Null
        Get-RedisDump 39 | Should -Not -Be $before
        $undo = Undo-DfMigration -Database $db -Confirm:$false
        $undo.Path | Should -Be $backup
        Get-RedisDump 39 | Should -BeExactly $before
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending).Id | Should -Contain 'bump'
        { Undo-DfMigration -Database $db -Confirm:$false } | Should -Throw '*no migration run to undo*'
    }

    It 'refuses to take back a run when the database changed since, unless -Force' {
        $before = Get-RedisDump 39
        Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false | Out-Null
        Add-RedisObjects 39 @(New-Port 'p9' 't1')
        $err = $null
        try { Undo-DfMigration -Database $db -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseChangedSinceRun*'
        $err.Exception.Message | Should -BeLike '*lport/p9 (topic t1) created*'
        $err.ErrorDetails.RecommendedAction | Should -BeLike '*Undo-DfMigration -Database * -Force*'
        Undo-DfMigration -Database $db -Force -Confirm:$false | Out-Null
        Get-RedisDump 39 | Should -BeExactly $before
    }

    It 'with -WhatIf takes no lock and writes no backup' {
        $before = Get-RedisDump 39
        Reset-RedisStats
        $plan = Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -WhatIf
        $plan.Migrations | Should -Contain 'bump'
        # Every command the run sent, seen while it ran: a lock taken and released again, or a
        # script that writes, shows here even though nothing is left afterwards.
        $reads = 'GET', 'MGET', 'SMEMBERS', 'SCAN', 'EXISTS', 'TYPE', 'PTTL', 'TTL', 'STRLEN', 'DBSIZE', 'PING', 'ECHO', 'SELECT', 'CLIENT', 'HELLO', 'INFO'
        @(Get-RedisCommands 39 | Where-Object { $_[0].ToUpperInvariant() -notin $reads } | ForEach-Object { $_ -join ' ' }) | Should -BeNullOrEmpty
        Invoke-RedisCli 39 --scan --pattern '{df_upgrade_*' | Should -BeNullOrEmpty
        Test-Path $backup | Should -BeFalse
        Get-RedisDump 39 | Should -BeExactly $before
    }

    It 'on an embedded file database locks it with a file beside it and backs it up into df-backups beside it' {
        $path = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl"
        '{"table":"lport","topic":"t1","id":"p1","value":{"id":"p1","topic":"t1","version":1}}' | Set-Content $path
        # The migration copies the lock file as it is while the run applies it.
        $seen = Join-Path $TestDrive "$([guid]::NewGuid()).seen"
        New-MigrationFile $folder 'observe.ps1' 'observe-lock' '2018-05-01T00:00:00Z' "Get-Content -Raw -LiteralPath '$path.lock' | Set-Content -LiteralPath '$seen'" | Out-Null
        $out = Invoke-DfMigration -Database $path -MigrationPath $folder -BackupPath $null -Confirm:$false
        $held = Get-Content -Raw $seen | ConvertFrom-Json
        $held.pid | Should -Be $PID
        $held.purpose | Should -Be 'Invoke-DfMigration'
        $written = ($out | Where-Object Id -eq 'bump').BackupPath
        Split-Path $written | Should -Be (Join-Path (Split-Path $path) 'df-backups')
        Test-Path "$path.lock" | Should -BeFalse
        (Get-DfNbObject -Database $path -Table lport -Id p1).version | Should -Be 2
        Undo-DfMigration -Database $path -Confirm:$false | Out-Null
        (Get-DfNbObject -Database $path -Table lport -Id p1).version | Should -Be 1
    }
}

Describe 'Every cmdlet that writes the NB database and a live control plane' {
    BeforeAll {
        function Add-LiveService { Add-RedisObjects 40 @(@{ table = 'service'; topic = ''; id = 'svc1'; value = @{ id = 'svc1'; chassis = 'compute-1'; binary = 'df-local-controller'; last_seen_up = (Get-EpochSeconds 5) } }) }
        function Assert-Refused([scriptblock] $Run) {
            $before = Get-RedisDump 40
            $err = $null
            try { & $Run } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'ControlPlaneAlive,*'
            $err.Exception.Message | Should -BeLike '*df-local-controller on compute-1*'
            Get-RedisDump 40 | Should -BeExactly $before
            Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
        }
    }
    BeforeEach {
        $db = New-TestRedis 40
        Add-Ports 40
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-Bump $folder
        $backup = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz"
    }

    It 'Set-DfMigrationBaseline refuses, naming it, and writes nothing; -IgnoreLiveControlPlane (its -Force) writes with a warning' {
        Add-LiveService
        Assert-Refused { Set-DfMigrationBaseline -Database $db -Release pike -MigrationPath $folder -Confirm:$false }
        $rows = Set-DfMigrationBaseline -Database $db -Release queens -MigrationPath $folder -IgnoreLiveControlPlane -Confirm:$false -WarningVariable warnings 3>$null
        $rows.Id | Should -Contain 'bump'
        $warnings | Should -Match '-IgnoreLiveControlPlane: baselining while the control plane still runs: service df-local-controller on compute-1'
    }

    It 'Restore-DfNbDatabase refuses, naming it, and writes nothing, even with -Force; -IgnoreLiveControlPlane restores' {
        Backup-DfNbDatabase -Database $db -Path $backup | Out-Null
        Add-RedisObjects 40 @(New-Port 'p9' 't1')
        Add-LiveService
        Assert-Refused { Restore-DfNbDatabase -Database $db -Path $backup -Confirm:$false }
        Assert-Refused { Restore-DfNbDatabase -Database $db -Path $backup -Force -Confirm:$false }
        $err = $null
        try { Restore-DfNbDatabase -Database $db -Path $backup -Confirm:$false } catch { $err = $_ }
        $err.Exception.Message | Should -BeLike '*run Restore-DfNbDatabase with -IgnoreLiveControlPlane*'
        (Restore-DfNbDatabase -Database $db -Path $backup -IgnoreLiveControlPlane -Confirm:$false 3>$null).Deleted | Should -Be 2
    }

    It 'Undo-DfMigration refuses, naming it, and writes nothing, even with -Force; -IgnoreLiveControlPlane undoes' {
        Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false | Out-Null
        Add-LiveService
        Assert-Refused { Undo-DfMigration -Database $db -Confirm:$false }
        Assert-Refused { Undo-DfMigration -Database $db -Force -Confirm:$false }
        (Undo-DfMigration -Database $db -IgnoreLiveControlPlane -Confirm:$false 3>$null).Applied | Should -BeTrue
    }

    It 'under -WhatIf only warns, and writes nothing' {
        Backup-DfNbDatabase -Database $db -Path $backup | Out-Null
        Add-LiveService
        $before = Get-RedisDump 40
        $r = Restore-DfNbDatabase -Database $db -Path $backup -WhatIf -WarningVariable warnings 3>$null
        $r.Applied | Should -BeFalse
        $warnings | Should -Match 'The control plane still runs: service df-local-controller on compute-1'
        Set-DfMigrationBaseline -Database $db -Release pike -WhatIf 3>$null
        Get-RedisDump 40 | Should -BeExactly $before
    }
}

Describe 'Set-DfMigrationBaseline and the upgrade lock' {
    It 'is refused while another host holds the lock, naming the holder, and writes nothing' {
        $db = New-TestRedis 41
        Add-Ports 41
        Set-LockHeldElsewhere 41
        $before = Get-RedisDump 41
        $err = $null
        try { Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked,*'
        $err.Exception.Message | Should -BeLike '*controller-2*'
        Get-RedisDump 41 | Should -BeExactly $before
        Unlock-DfNbDatabase -Database $db -Force -Confirm:$false | Out-Null
    }
}

Describe 'Restore-DfNbDatabase in a pipeline' {
    BeforeEach {
        $db = New-TestRedis 42
        Add-Ports 42
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-Bump $folder
        New-MigrationFile $folder 'bump2.ps1' 'bump-again' '2018-07-01T00:00:00Z' $BumpEveryObject | Out-Null
        $backup = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz"
    }

    It 'takes back what Invoke-DfMigration piped to it, restoring its backup once' {
        $before = Get-NbDump 42
        $run = Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false
        @($run).Count | Should -BeGreaterThan 1
        $restored = @($run | Restore-DfNbDatabase -Confirm:$false)
        $restored.Count | Should -Be 1
        $restored[0].Path | Should -Be $backup
        $restored[0].Applied | Should -BeTrue
        # The module's own record of the run stays; every NB object is as before the run.
        Compare-NbDump (Get-NbDump 42) $before | Should -BeNullOrEmpty
    }

    It 'puts what Backup-DfNbDatabase piped to it back into the database it came from' {
        $backupObject = Backup-DfNbDatabase -Database $db -Path $backup
        $backupObject.Database | Should -Be $db
        $before = Get-RedisDump 42
        Invoke-RedisCli 42 SET '{lport.t9}.extra' '{"id": "extra"}' | Out-Null
        $r = $backupObject | Restore-DfNbDatabase -Confirm:$false
        $r.Database | Should -Be $db
        $r.Deleted | Should -Be 1
        Get-RedisDump 42 | Should -BeExactly $before
    }
}
