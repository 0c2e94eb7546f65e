# The hostile-input suite, migration files and concurrency: each case runs Invoke-DfMigration
# against a Redis database reached with a password, and asserts the error id, that the message
# names the migration (and the object, where there is one), that the database is byte for byte
# as it was, and that the password appears in no stream, error record or file the module wrote.
BeforeDiscovery {
    function Mig([string] $Apply = '', [string] $Id = 'm1', [string] $Date = '2017-09-01T00:00:00Z', [string] $Extra = '') {
        "@{`n    Id = '$Id'`n    Release = 'queens'`n    Description = 'hostile'`n    ProposedAt = '$Date'`n    $Extra`n    Apply = {`n        param(`$NbApi)`n        $Apply`n    }`n}"
    }
    $noApply = "@{ Id = 'm1'; Release = 'queens'; Description = 'd'; ProposedAt = '2017-09-01T00:00:00Z' }"
    $script:Cases = @(
        # Files that are not migrations: refused when loaded.
        @{ Case = 'a file evaluating to a string'; Files = @{ 'm.ps1' = "'just text'" }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'exactly one hashtable' }
        @{ Case = 'a file evaluating to nothing'; Files = @{ 'm.ps1' = '$null' }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'exactly one hashtable' }
        @{ Case = 'a file evaluating to two hashtables'; Files = @{ 'm.ps1' = (Mig -Id a) + "`n" + (Mig -Id b) }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'exactly one hashtable' }
        @{ Case = 'a file evaluating to numbers'; Files = @{ 'm.ps1' = '1, 2, 3' }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'exactly one hashtable' }
        @{ Case = 'a file evaluating to a script block'; Files = @{ 'm.ps1' = '{ param($NbApi) }' }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'exactly one hashtable' }
        @{ Case = 'a migration without Id'; Files = @{ 'm.ps1' = (Mig -Id '') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'no Id' }
        @{ Case = 'a migration without Release'; Files = @{ 'm.ps1' = "@{ Id = 'm1'; Description = 'd'; ProposedAt = '2017-09-01T00:00:00Z'; Apply = { param(`$NbApi) } }" }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'m1' has no Release" }
        @{ Case = 'a migration without ProposedAt'; Files = @{ 'm.ps1' = "@{ Id = 'm1'; Release = 'queens'; Apply = { param(`$NbApi) } }" }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'m1' has no ProposedAt" }
        @{ Case = 'a migration without Apply'; Files = @{ 'm.ps1' = $noApply }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'m1' has no Apply" }
        @{ Case = 'a migration whose Apply is text'; Files = @{ 'm.ps1' = $noApply.Replace(' }', "; Apply = 'Remove-Item *' }") }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'m1' has no Apply" }
        @{ Case = 'a migration with an unknown key'; Files = @{ 'm.ps1' = (Mig -Extra 'Aply = 1') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'unknown key(s) Aply' }
        @{ Case = 'a date that is not ISO 8601'; Files = @{ 'm.ps1' = (Mig -Date '01/02/2017') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'01/02/2017'" }
        @{ Case = 'a date without a zone'; Files = @{ 'm.ps1' = (Mig -Date '2017-09-01T00:00:00') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'not an ISO 8601 UTC time' }
        @{ Case = 'a date that does not exist'; Files = @{ 'm.ps1' = (Mig -Date '2017-02-30T00:00:00Z') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'2017-02-30T00:00:00Z'" }
        @{ Case = 'a date in words'; Files = @{ 'm.ps1' = (Mig -Date 'yesterday') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'yesterday'" }
        @{ Case = 'an id climbing out of a folder'; Files = @{ 'm.ps1' = (Mig -Id '../../tmp/evil id') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'../../tmp/evil id' is not a migration id" }
        @{ Case = 'an id with a space'; Files = @{ 'm.ps1' = (Mig -Id 'a b') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'a b' is not a migration id" }
        @{ Case = 'an id starting with a dot'; Files = @{ 'm.ps1' = (Mig -Id '.hidden') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'.hidden' is not a migration id" }
        @{ Case = 'an id with a slash'; Files = @{ 'm.ps1' = (Mig -Id 'a/b') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'a/b' is not a migration id" }
        @{ Case = 'an id with a semicolon'; Files = @{ 'm.ps1' = (Mig -Id 'a;b') }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', "'a;b' is not a migration id" }
        @{ Case = 'a file that throws when loaded'; Files = @{ 'm.ps1' = "throw 'refused at load'" }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'refused at load' }
        @{ Case = 'a file that does not parse'; Files = @{ 'm.ps1' = "@{ Id = 'm1'" }; ErrorId = 'MigrationMalformed'; Culprit = 'm.ps1', 'evaluating it failed' }
        @{ Case = 'a file that exits when loaded'; Files = @{ 'm.ps1' = 'exit 3' }; ErrorId = 'MigrationMalformed'; Culprit = @('m.ps1') }
        @{ Case = 'two files with one id'; Files = @{ 'a.ps1' = (Mig -Id same); 'b.ps1' = (Mig -Id same -Date '2017-09-02T00:00:00Z') }; ErrorId = 'MigrationMalformed'; Culprit = 'a.ps1', 'b.ps1', "'same'" }
        @{ Case = 'a .dll that is text'; Files = @{ 'm.dll' = 'this is not an assembly' }; ErrorId = 'MigrationMalformed'; Culprit = 'm.dll', 'not a .NET assembly' }
        @{ Case = 'an empty .dll'; Files = @{ 'm.dll' = '' }; ErrorId = 'MigrationMalformed'; Culprit = 'm.dll', 'not a .NET assembly' }
        # Migrations that fail while they run: nothing written.
        @{ Case = 'Apply throws'; Files = @{ 'm.ps1' = (Mig "throw 'no way'") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'no way' }
        @{ Case = 'Apply writes an error'; Files = @{ 'm.ps1' = (Mig "Write-Error 'bad port'") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'bad port' }
        @{ Case = 'Apply exits with 3'; Files = @{ 'm.ps1' = (Mig 'exit 3') }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", "ran 'exit 3'", 'throw' }
        @{ Case = 'Apply exits with 0'; Files = @{ 'm.ps1' = (Mig 'exit 0') }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", "ran 'exit 0'" }
        @{ Case = 'Update given a string'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Update('lport', 'p1')") }; ErrorId = 'MigrationFailed'; Culprit = @("'m1'") }
        @{ Case = 'Create given a number'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('lport', 42)") }; ErrorId = 'MigrationFailed'; Culprit = @("'m1'") }
        @{ Case = 'Create given a custom object'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('lport', [pscustomobject]@{ id = 'p9' })") }; ErrorId = 'MigrationFailed'; Culprit = @("'m1'") }
        @{ Case = 'Update given an array'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Update('lport', @(1, 2))") }; ErrorId = 'MigrationFailed'; Culprit = @("'m1'") }
        @{ Case = 'Create of an object that exists'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('lport', @{ id = 'p1'; topic = 't1' })") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'lport/p1', 'already exists' }
        @{ Case = 'Update of an object that does not exist'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Update('lport', @{ id = 'nope' })") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'lport/nope', 'does not exist' }
        @{ Case = 'Delete of an object that does not exist'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Delete('lport', 'nope')") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'lport/nope', 'does not exist' }
        @{ Case = 'an object whose id is changed'; Files = @{ 'm.ps1' = (Mig "`$p = `$NbApi.Get('lport', 'p1'); `$p['id'] = 'p9'; `$NbApi.Update('lport', `$p)") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'lport/p9', 'does not exist' }
        @{ Case = 'Create of an object without id'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('lport', @{ name = 'x' })") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", "'id'" }
        @{ Case = 'an object holding a date'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('lport', @{ id = 'p9'; when = [datetime]::UtcNow })") }; ErrorId = 'MigrationFailed'; Culprit = "'m1'", 'DateTime' }
        # Migrations that write the module's own records.
        @{ Case = 'a migration deleting a log row'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Delete('schema_migration_log', 'queens-lport-switch-topic')") }; ErrorId = 'MigrationWritesModuleTable'; Culprit = "'m1'", 'schema_migration_log/queens-lport-switch-topic' }
        @{ Case = 'a migration updating a log row'; Files = @{ 'm.ps1' = (Mig "`$r = `$NbApi.Get('schema_migration_log', 'queens-lport-switch-topic'); `$r['kind'] = 'x'; `$NbApi.Update('schema_migration_log', `$r)") }; ErrorId = 'MigrationWritesModuleTable'; Culprit = "'m1'", 'schema_migration_log/queens-lport-switch-topic' }
        @{ Case = 'a migration creating a log row'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('schema_migration_log', @{ id = 'm1' })") }; ErrorId = 'MigrationWritesModuleTable'; Culprit = "'m1'", 'schema_migration_log/m1' }
        @{ Case = 'a migration creating a lock row'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('df_upgrade_lock', @{ id = 'lock' })") }; ErrorId = 'MigrationWritesModuleTable'; Culprit = "'m1'", 'df_upgrade_lock/lock' }
        @{ Case = 'a migration deleting the commit marker'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Delete('df_upgrade_commit', 'in-progress')") }; ErrorId = 'MigrationWritesModuleTable'; Culprit = "'m1'", 'df_upgrade_commit/in-progress' }
        @{ Case = 'a migration creating a journal row'; Files = @{ 'm.ps1' = (Mig "`$NbApi.Create('df_upgrade_journal', @{ id = 'x' })") }; ErrorId = 'MigrationWritesModuleTable'; Culprit = "'m1'", 'df_upgrade_journal/x' }
    )
}

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"
    $script:Index = 41
    # A Redis user of the test's own, so that the database is reached with a password to look for.
    $script:Secret = 'Hostile-' + [guid]::NewGuid().ToString('N')
    $script:User = "hostile$PID"
    Invoke-RedisCli 0 ACL SETUSER $User on ">$Secret" '~*' '&*' '+@all' | Out-Null
    $script:Uri = "redis://$($User):$Secret@$($script:Endpoint)/$Index"

    # Runs Invoke-DfMigration on the migrations of $Folder with every stream captured, and
    # returns what came out (see Invoke-Captured).
    function Invoke-Hostile([string] $Folder, [string] $BackupDir, [string] $Cmdlet = 'Invoke-DfMigration', [hashtable] $Extra = @{}) {
        $parameters = @{ Database = $script:Uri; Confirm = $false; Verbose = $true } + $Extra
        if ($Cmdlet -eq 'Invoke-DfMigration') { $parameters.MigrationPath = $Folder; $parameters.BackupPath = Join-Path $BackupDir 'backup.jsonl.gz' }
        Invoke-Captured { & $Cmdlet @parameters }
    }

    # The error id, the culprit, and the password nowhere.
    function Assert-Refusal($Run, [string] $ErrorId, [string[]] $Culprit, [string] $BackupDir) {
        $err = $Run.Error
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
        foreach ($c in $Culprit) { $err.Exception.Message | Should -BeLike "*$([WildcardPattern]::Escape($c))*" }
        $Run.Text | Should -Not -BeLike "*$Secret*"
        foreach ($file in Get-ChildItem $BackupDir -Recurse -File -ErrorAction SilentlyContinue) {
            $stream = [IO.File]::OpenRead($file.FullName)
            try {
                if ($file.Name -like '*.gz') { $stream = [IO.Compression.GZipStream]::new($stream, [IO.Compression.CompressionMode]::Decompress) }
                [IO.StreamReader]::new($stream).ReadToEnd() | Should -Not -BeLike "*$Secret*" -Because $file.FullName
            }
            finally { $stream.Dispose() }
        }
    }

    function New-HostileDatabase {
        $db = New-TestRedis $script:Index
        Add-RedisObjects $script:Index @((New-Port p1 t1), (New-Port p2 t1), (New-Port p3 t2 'network:dhcp'))
        Set-ShippedMigrationsApplied $db
    }
}

AfterAll {
    Invoke-RedisCli 0 ACL DELUSER $script:User | Out-Null
}

Describe 'Hostile migrations' {
    BeforeEach {
        New-HostileDatabase
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        $backups = Join-Path $TestDrive ([guid]::NewGuid())
        New-Item -ItemType Directory $folder, $backups | Out-Null
    }

    It 'refuses <Case> with <ErrorId>, naming it, and writes nothing' -ForEach $Cases {
        foreach ($name in $Files.Keys) { Set-Content -Path (Join-Path $folder $name) -Value $Files[$name] }
        $before = Get-RedisDump $Index
        $run = Invoke-Hostile $folder $backups
        Assert-Refusal $run $ErrorId $Culprit $backups
        Get-RedisDump $Index | Should -BeExactly $before
    }

    It 'refuses a pipe named like a migration, naming it, and writes nothing' {
        $pipe = Join-Path $folder 'm.ps1'
        mkfifo $pipe
        # A writer waits for a reader to open the pipe: code that reads it lets the writer write and end, and does not
        # hang. The writer still waiting when the command has returned is what proves the pipe was not read. (Its
        # command is one argument: Start-Process would split it at each space.)
        $writer = [Diagnostics.Process]::Start('bash', [string[]]@('-c', "echo '@{}' > '$pipe'"))
        try {
            $before = Get-RedisDump $Index
            $run = Invoke-Hostile $folder $backups
            $writer.WaitForExit(2000) | Should -BeFalse -Because 'the pipe should not be read (its writer ends once it is)'
            Assert-Refusal $run 'MigrationMalformed' 'm.ps1', 'not a regular file' $backups
            Get-RedisDump $Index | Should -BeExactly $before
        }
        finally { Stop-Process -Id $writer.Id -Force -ErrorAction SilentlyContinue }
    }

    It 'refuses a second run while one holds the lock, naming it, and writes nothing' {
        Set-Content (Join-Path $folder 'm.ps1') "@{ Id = 'm1'; Release = 'queens'; ProposedAt = '2017-09-01T00:00:00Z'; Apply = { param(`$NbApi) foreach (`$p in `$NbApi.GetAll('lport')) { `$p['flag'] = 1; `$NbApi.Update('lport', `$p) } } }"
        $store = [DragonflowUpgrade.Engine.Store.NbStoreFactory]::Open("redis://$($script:Endpoint)/$Index")
        $held = [DragonflowUpgrade.Engine.Safety.UpgradeLock]::Acquire($store, 'Invoke-DfMigration', $null)
        try {
            $before = Get-RedisDump $Index
            $run = Invoke-Hostile $folder $backups
            Assert-Refusal $run 'DatabaseLocked' @('locked by', "process $PID") $backups
            Get-RedisDump $Index | Should -BeExactly $before
        }
        finally { $held.Dispose(); $store.Dispose() }
    }

    Context 'a write by someone else between the read and the commit' {
        BeforeEach {
            # The migration itself plays the other writer: it runs after the read and before the commit.
            $theirs = '{"id": "p1", "topic": "t1", "version": 7}'
            Set-Content (Join-Path $folder 'm.ps1') @"
@{ Id = 'm1'; Release = 'queens'; ProposedAt = '2017-09-01T00:00:00Z'; Apply = {
    param(`$NbApi)
    redis-cli -h $($script:RedisHost) -p $($script:RedisPort) -n $Index SET '{lport.t1}.p1' '$theirs' | Out-Null
    foreach (`$p in `$NbApi.GetAll('lport')) { `$p['flag'] = 1; `$NbApi.Update('lport', `$p) }
} }
"@
            # The NB objects and the log, without the module's own records (lock, journal, the log's set of keys).
            function Get-NbDump { (Get-RedisDump $Index) -split "`n" | Where-Object { $_ -notlike '{df_upgrade_*' } | Join-String -Separator "`n" }
            $original = Get-NbDump
            $expected = ($original -split "`n" | ForEach-Object { if ($_ -like '{lport.t1}.p1 = *') { "{lport.t1}.p1 = $theirs" } else { $_ } }) -join "`n"
        }

        It 'fails the commit with NbCommitConflict naming the object, writes none of its batch, and leaves the commit to resume or undo' {
            $run = Invoke-Hostile $folder $backups
            Assert-Refusal $run 'NbCommitConflict' @('lport/p1') $backups
            $run.Error.ErrorDetails.RecommendedAction | Should -BeLike '*Resume-DfMigration*Undo-DfMigration*'
            Get-NbDump | Should -BeExactly $expected
        }

        It 'refuses to resume that commit with DatabaseChangedSinceRun until forced, writing nothing' {
            Invoke-Hostile $folder $backups | Out-Null
            $run = Invoke-Hostile $folder $backups -Cmdlet Resume-DfMigration
            Assert-Refusal $run 'DatabaseChangedSinceRun' @('lport/p1') $backups
            $run.Error.ErrorDetails.RecommendedAction | Should -BeLike '*-Force*'
            Get-NbDump | Should -BeExactly $expected
        }

        It 'refuses to undo that commit over the other write with DatabaseChangedSinceRun until forced' {
            Invoke-Hostile $folder $backups | Out-Null
            $streams = Invoke-Hostile $folder $backups -Cmdlet Undo-DfMigration
            Assert-Refusal $streams 'DatabaseChangedSinceRun' @('lport/p1') $backups
            Get-NbDump | Should -BeExactly $expected
            Undo-DfMigration -Database $Uri -Force -Confirm:$false | Out-Null
            Get-NbDump | Should -BeExactly $original
        }
    }
}
