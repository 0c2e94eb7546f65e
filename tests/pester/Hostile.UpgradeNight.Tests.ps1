# An operator's worst night and a hostile user against the whole upgrade. First a state file that
# something else took the place of: each is refused at once with an error naming the file, and
# nothing is stopped or written (no service runs there: the nodes are the test sshd nodes, the
# database a file copy of the Pike sample). Then attacks on whole upgrades of the test cloud.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    . "$PSScriptRoot/../fixtures/remote/TestCloud.ps1"
    . "$PSScriptRoot/NeutronSupport.ps1"
    . "$PSScriptRoot/ConfigurationSupport.ps1"
    . "$PSScriptRoot/UpgradeSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"
    . "$PSScriptRoot/FixtureSupport.ps1"
    # The clouds that tests leave as they found them, used again by the next test (Get-SharedPikeCloud).
    $shared = @{}

    function New-Case {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory $dir | Out-Null
        $inventory = Join-Path $dir 'inventory.psd1'
        & "$PSScriptRoot/../fixtures/remote/New-TestInventory.ps1" -Path $inventory -RedisDb 57 -ServiceDir (Join-Path $dir 'services') -NodeCount 2
        $db = Join-Path $dir 'nb.jsonl'
        Copy-Item "$PSScriptRoot/../fixtures/pike-nb.jsonl" $db
        $backups = Join-Path $dir 'backups'
        New-Item -ItemType Directory $backups | Out-Null
        [pscustomobject]@{
            Dir = $dir; Db = $db; Backups = $backups; State = Join-Path $backups 'df-upgrade-state.json'
            Parameters = @{ Inventory = $inventory; Database = $db; TargetRelease = 'queens'; BackupPath = $backups
                            KnownHostsPath = (Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'); Confirm = $false }
        }
    }

    # Runs <Command> (Invoke-DfUpgrade, Invoke-DfUpgrade -Resume or Undo-DfUpgrade) on the case in a thread
    # job; gives up after $Seconds, calling $Unblock to release whatever it waits on. Returns the error it ended with.
    function Invoke-UpgradeCommand($Case, [string] $Command, [double] $Seconds = 60, [scriptblock] $Unblock) {
        $p = $Case.Parameters.Clone()
        if ($Command -eq 'Undo-DfUpgrade') { $p.Remove('TargetRelease') }
        $psd1 = Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1'
        $job = Start-ThreadJob -ArgumentList $psd1, $Command, $p -ScriptBlock {
            param($psd1, $Command, $p)
            Import-Module $psd1
            try {
                if ($Command -eq 'Undo-DfUpgrade') { Undo-DfUpgrade @p | Out-Null }
                elseif ($Command -like '*Resume') { Invoke-DfUpgrade @p -Resume | Out-Null }
                else { Invoke-DfUpgrade @p | Out-Null }
                $null
            }
            catch { $_ }
        }
        $ended = Wait-Job $job -Timeout $Seconds
        if (-not $ended -and $Unblock) { & $Unblock }
        $result = Receive-Job $job -Wait -AutoRemoveJob
        if (-not $ended) { throw "$Command did not end within $Seconds s." }
        $result
    }
}
AfterAll { Remove-SharedPikeCloud $shared }

Describe 'A state file that something else took the place of' {
    It 'is refused as invalid, naming it, when it is a folder, by <Command>' -ForEach @(
        @{ Command = 'Invoke-DfUpgrade' }, @{ Command = 'Invoke-DfUpgrade -Resume' }, @{ Command = 'Undo-DfUpgrade' }
    ) {
        $case = New-Case
        New-Item -ItemType Directory $case.State | Out-Null
        $e = Invoke-UpgradeCommand $case $Command
        $e | Should -Not -BeNullOrEmpty -Because 'a folder in the state file''s place is not "no upgrade under way"'
        $e.FullyQualifiedErrorId | Should -BeLike 'UpgradeStateInvalid*'
        $e.Exception.Message | Should -Match ([regex]::Escape($case.State))
        $e.Exception.Message | Should -Match 'folder'
        Test-Path $case.State -PathType Container | Should -BeTrue
        @(Get-ChildItem $case.Backups).Count | Should -Be 1 -Because 'nothing is written beside it'
    }

    It 'is refused as invalid at once, not waited on, when it is a FIFO, by <Command>' -ForEach @(
        @{ Command = 'Invoke-DfUpgrade' }, @{ Command = 'Invoke-DfUpgrade -Resume' }, @{ Command = 'Undo-DfUpgrade' }
    ) {
        $case = New-Case
        mkfifo $case.State
        $LASTEXITCODE | Should -Be 0
        $fifo = $case.State
        # Before the fix the command read the FIFO forever: writing to it lets the job end and the test fail.
        $e = Invoke-UpgradeCommand $case $Command -Seconds 60 -Unblock { [IO.File]::WriteAllText($fifo, 'x') }
        $e.FullyQualifiedErrorId | Should -BeLike 'UpgradeStateInvalid*'
        $e.Exception.Message | Should -Match ([regex]::Escape($case.State))
        @(Get-ChildItem $case.Backups).Count | Should -Be 1
    }

    It 'is refused as invalid when an editor or a full disk left it empty, by <Command>' -ForEach @(
        @{ Command = 'Invoke-DfUpgrade -Resume' }, @{ Command = 'Undo-DfUpgrade' }
    ) {
        $case = New-Case
        [IO.File]::WriteAllBytes($case.State, [byte[]]@())
        $e = Invoke-UpgradeCommand $case $Command
        $e.FullyQualifiedErrorId | Should -BeLike 'UpgradeStateInvalid*'
        $e.Exception.Message | Should -Match ([regex]::Escape($case.State))
        (Get-Item $case.State).Length | Should -Be 0
    }
}

# The same night on the test cloud (sshd nodes with heartbeating services, Neutron's database in
# the test MariaDB, the NB database in Redis): what else runs meanwhile, a node or a server that
# stops answering, backups tampered with, a backup folder that cannot hold them, hostile paths.
# Each run must end done, rolled back, or stopped in a state -Resume or Undo-DfUpgrade gets out of.
Describe 'The whole upgrade on the test cloud, under attack' {
    BeforeAll {
        function Get-State($Cloud) { Get-Content (Join-Path $Cloud.Backups 'df-upgrade-state.json') -Raw | ConvertFrom-Json }

        function Get-UndoParameters($Cloud) {
            @{ Inventory = $Cloud.Inventory; Database = $Cloud.Database; BackupPath = $Cloud.Backups; KnownHostsPath = $Cloud.KnownHosts
               ServiceDownTime = 2; HeartbeatTimeout = 60; NeutronCredential = (Get-TestNeutronCredential); Confirm = $false }
        }

        # Holds the update command on every node until the gate file is removed; returns the gate.
        function Set-UpdateGate($Cloud, [hashtable] $Parameters) {
            $gate = Join-Path $Cloud.Dir 'update.hold'
            $Parameters.UpdateCommand = "touch '$gate.reached'; while [ -e '$gate' ]; do sleep 0.1; done; $($Parameters.UpdateCommand)"
            New-Item $gate | Out-Null
            $gate
        }

        # Freezes (SIGSTOP) or thaws (SIGCONT) the process whose id the file holds: a frozen server accepts no new session.
        function Set-Frozen([string] $PidFile, [bool] $Frozen) {
            $id = (Get-Content $PidFile | Select-Object -First 1) -as [int]
            if (-not $id) { throw "No process id in $PidFile" }
            if ($Frozen) { kill -STOP $id } else { kill -CONT $id }
        }
    }

    Context 'two upgrades of one cloud at once' {
        BeforeEach { $kept = Get-SharedPikeCloud $shared 57; $cloud = $kept.Cloud; $before = $kept.Before }

        It 'refuses the second as under way (not as interrupted), leaves the first alone, and the first completes' {
            $p = Get-UpgradeParameters $cloud
            $gate = Set-UpdateGate $cloud $p
            $child = Start-UpgradeProcess $p $cloud.Dir
            try {
                Wait-Path "$gate.reached" -Process $child
                $state = Join-Path $cloud.Backups 'df-upgrade-state.json'
                $recorded = Get-Content $state -Raw
                $second = Invoke-Capturing { Invoke-DfUpgrade @p }
                $second.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeRunning*'
                $second.Thrown.Exception.Message | Should -BeLike "*is under way: Invoke-DfUpgrade (upgrade * (process $($child.Id) *"
                $second.Thrown.ErrorDetails.RecommendedAction | Should -BeLike 'Wait for it to end*'
                # Neither -Resume nor Undo-DfUpgrade takes over a live upgrade.
                (Invoke-Capturing { Invoke-DfUpgrade @p -Resume }).Thrown.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
                $undo = Get-UndoParameters $cloud
                (Invoke-Capturing { Undo-DfUpgrade @undo }).Thrown.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
                # Another folder, the same database: readiness finds the lock, and nothing is stopped twice.
                $other = $p.Clone(); $other.BackupPath = Join-Path $cloud.Dir 'other-backups'
                (Invoke-Capturing { Invoke-DfUpgrade @other }).Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeNotReady*'
                Test-Path (Join-Path $other.BackupPath 'df-upgrade-state.json') | Should -BeFalse
                Get-Content $state -Raw | Should -Be $recorded
                Remove-Item $gate
                $child.WaitForExit(300000) | Should -BeTrue
            }
            finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
            $child.ExitCode | Should -Be 0
            (Get-State $cloud).status | Should -Be 'Completed'
            Compare-QueensNb $cloud -ScratchDb 63 | Should -BeNullOrEmpty
            (Get-TestRelease $cloud).Release | Sort-Object -Unique | Should -Be 'queens'
        }
    }

    Context 'the NB lock broken mid-upgrade' {
        BeforeEach { $kept = Get-SharedPikeCloud $shared 57; $cloud = $kept.Cloud; $before = $kept.Before }

        It 'refuses Unlock-DfNbDatabase -Force from another session of this host; from another host it is broken, and the upgrade stops before the NB migration writes and puts the cloud back' {
            $p = Get-UpgradeParameters $cloud
            $gate = Set-UpdateGate $cloud $p
            $child = Start-UpgradeProcess $p $cloud.Dir
            try {
                Wait-Path "$gate.reached" -Process $child
                $refused = Invoke-Capturing { Unlock-DfNbDatabase -Database $cloud.Database -Force -Confirm:$false -ErrorAction Stop }
                $refused.Thrown.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
                $refused.Thrown.Exception.Message | Should -BeLike "*process $($child.Id) *still runs*"
                (Get-DfNbDatabaseLock -Database $cloud.Database).Purpose | Should -BeLike 'Invoke-DfUpgrade (upgrade *'

                # The same from a machine of another name (a UTS namespace of its own): the lock is not known to be alive there.
                $script = Join-Path $cloud.Dir 'unlock.ps1'
                "Import-Module '$PSScriptRoot/../../DragonflowUpgrade.psd1'; Unlock-DfNbDatabase -Database '$($cloud.Database)' -Force -Confirm:`$false" | Set-Content $script
                $exe = (Get-Process -Id $PID).Path
                $arguments = @('-NoProfile', '-NonInteractive', '-File', $script)
                if ((Split-Path $exe -Leaf) -like 'dotnet*') { $arguments = @(Join-Path $PSHOME 'pwsh.dll') + $arguments }
                unshare -u -- sh -c 'hostname df-other-host && exec "$0" "$@"' $exe @arguments
                $unshared = $LASTEXITCODE -eq 0
                Remove-Item $gate
                $child.WaitForExit(300000) | Should -BeTrue
            }
            finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
            if (-not $unshared) {
                $child.ExitCode | Should -Be 0
                Set-ItResult -Skipped -Because 'unshare -u is not permitted here: only the refusal on this host was tried'
                return
            }
            $child.ExitCode | Should -Not -Be 0 -Because 'an upgrade that lost its lock does not complete'
            Get-DfMigration -Database $cloud.Database -Pending | Should -Not -BeNullOrEmpty -Because 'the NB migration wrote nothing without the lock'
            $state = Get-State $cloud
            $state.failure | Should -BeLike 'step MigrateNb*'
            if ($state.status -ne 'RolledBack') {
                $state.status | Should -BeIn 'Failed', 'RollbackFailed'
                $undo = Get-UndoParameters $cloud
                (Undo-DfUpgrade @undo).Status | Should -Not -Contain 'RollbackFailed'
            }
            Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
            Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        }
    }

    Context 'a node or a server that stops answering after the stop' {
        BeforeEach { $kept = Get-SharedPikeCloud $shared 57; $cloud = $kept.Cloud; $before = $kept.Before }

        It 'fails naming the node when one stops answering SSH, and Undo-DfUpgrade finishes the rollback once it answers' {
            $p = Get-UpgradeParameters $cloud
            $p.ConnectTimeout = 3
            $gate = Set-UpdateGate $cloud $p
            $sshd = Join-Path $env:DF_TEST_SSH_DIR 'node02/sshd.pid'
            $child = Start-UpgradeProcess $p $cloud.Dir
            try {
                Wait-Path "$gate.reached" -Process $child
                Set-Frozen $sshd $true
                Remove-Item $gate
                $child.WaitForExit(300000) | Should -BeTrue
            }
            finally {
                Set-Frozen $sshd $false
                if (-not $child.HasExited) { Stop-ProcessHard $child }
            }
            $state = Get-State $cloud
            $state.failure | Should -BeLike '*node02*'
            if ($state.status -ne 'RolledBack') {
                $state.status | Should -BeIn 'Failed', 'RollbackFailed'
                $undo = Get-UndoParameters $cloud
                (Undo-DfUpgrade @undo).Status | Should -Not -Contain 'RollbackFailed'
            }
            Get-DfNbDatabaseLock -Database $cloud.Database | Should -BeNullOrEmpty
            Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        }

        It 'fails at the Neutron migration when Neutron''s MariaDB stops answering, and Undo-DfUpgrade restores it once it answers' {
            $p = Get-UpgradeParameters $cloud
            $p.CommandTimeout = 15
            $mariadb = Join-Path (Split-Path $env:DF_TEST_MARIADB_SOCKET) 'mariadbd.pidfile'
            $gate = "$($cloud.NeutronFail).hold"
            New-Item $gate | Out-Null
            $child = Start-UpgradeProcess $p $cloud.Dir
            try {
                Wait-Path "$gate.reached" -Process $child
                Set-Frozen $mariadb $true
                Remove-Item $gate
                $child.WaitForExit(300000) | Should -BeTrue
            }
            finally {
                Set-Frozen $mariadb $false
                if (-not $child.HasExited) { Stop-ProcessHard $child }
            }
            Wait-LeftCommand $cloud
            $state = Get-State $cloud
            $state.failure | Should -BeLike '*MigrateNeutron*'
            if ($state.status -ne 'RolledBack') {
                $state.status | Should -BeIn 'Failed', 'RollbackFailed'
                $undo = Get-UndoParameters $cloud
                (Undo-DfUpgrade @undo).Status | Should -Not -Contain 'RollbackFailed'
            }
            Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        }
    }

    Context 'Neutron''s dump tampered with between the backup and the restore' {
        BeforeEach { $kept = Get-SharedPikeCloud $shared 57; $cloud = $kept.Cloud; $before = $kept.Before }

        It 'is refused by Undo-DfUpgrade, which undoes nothing, when the dump was <Case>; put back, the dump restores exactly' -ForEach @(
            @{ Case = 'truncated'; Tamper = { param($dump) $bytes = [IO.File]::ReadAllBytes($dump); [IO.File]::WriteAllBytes($dump, $bytes[0..($bytes.Length / 2)]) } }
            @{ Case = 'swapped for another, its .sha256 file too'; Tamper = {
                    param($dump)
                    [IO.File]::WriteAllText($dump, "DROP DATABASE neutron;`n")
                    $sum = (Get-FileHash $dump -Algorithm SHA256).Hash.ToLowerInvariant()
                    Get-Content "$dump.sha256" -Raw | ForEach-Object { $_ -replace '^[0-9a-fA-F]{64}', $sum } | Set-Content "$dump.sha256" -NoNewline } }
        ) {
            $p = Get-UpgradeParameters $cloud
            Stop-UpgradeInside $cloud $p 'MigrateNeutron'
            $dump = (Get-State $cloud).neutronBackupPath
            $original = [IO.File]::ReadAllBytes($dump)
            $sums = Get-Content "$dump.sha256" -Raw
            & $Tamper $dump
            $undo = Get-UndoParameters $cloud
            $refused = Invoke-Capturing { Undo-DfUpgrade @undo }
            $refused.Thrown.Exception.Message | Should -BeLike "*The rollback did not start, so nothing was undone*MigrateNeutron*$(Split-Path $dump -Leaf)*"
            @(Get-TestRelease $cloud).Count | Should -Be 0 -Because 'nothing is started over a database not restored'
            Invoke-TestNeutronSql 'SHOW DATABASES' | Should -Contain 'neutron'

            [IO.File]::WriteAllBytes($dump, $original)
            Set-Content "$dump.sha256" $sums -NoNewline
            (Undo-DfUpgrade @undo).Status | Should -Not -Contain 'RollbackFailed'
            Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        }
    }

    Context 'a backup folder that is not what it seems' {
        BeforeEach { $kept = Get-SharedPikeCloud $shared 57; $cloud = $kept.Cloud; $before = $kept.Before }

        It 'stops nothing when the backup folder <Case>, and says so naming it' -ForEach @(
            @{ Case = 'cannot be written (immutable)'; Why = '*BackupFolder*' }
            @{ Case = 'is on a full file system'; Why = '*BackupFolder*' }
        ) {
            $p = Get-UpgradeParameters $cloud
            New-Item -ItemType Directory $p.BackupPath | Out-Null
            $undoSetup = $null
            if ($Case -like '*immutable*') {
                chattr +i $p.BackupPath
                if ($LASTEXITCODE -ne 0) { Set-ItResult -Skipped -Because 'chattr +i is refused on this file system'; return }
                $undoSetup = { chattr -i $p.BackupPath }
            }
            else {
                mount -t tmpfs -o size=64k tmpfs $p.BackupPath
                if ($LASTEXITCODE -ne 0) { Set-ItResult -Skipped -Because 'mount -t tmpfs is not permitted here'; return }
                $undoSetup = { umount $p.BackupPath }
                [IO.File]::WriteAllBytes((Join-Path $p.BackupPath 'filler'), [byte[]]::new(60KB))
            }
            try {
                $run = Invoke-Capturing { Invoke-DfUpgrade @p }
                $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeNotReady*'
                $run.Thrown.Exception.Message | Should -BeLike $Why
                $run.Thrown.Exception.Message | Should -BeLike "*$($p.BackupPath)*"
                @(Get-TestServiceEvent $cloud | Where-Object What -Like 'stop*').Count | Should -Be 0
                Test-Path (Join-Path $p.BackupPath 'df-upgrade-state.json') | Should -BeFalse
            }
            finally { & $undoSetup }
            Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
        }

        It 'stops, saying where and how to go on, when the backup folder fills up mid-upgrade; Undo-DfUpgrade puts the cloud back once there is room' {
            $p = Get-UpgradeParameters $cloud
            New-Item -ItemType Directory $p.BackupPath | Out-Null
            mount -t tmpfs -o size=4m tmpfs $p.BackupPath
            if ($LASTEXITCODE -ne 0) { Set-ItResult -Skipped -Because 'mount -t tmpfs is not permitted here'; return }
            try {
                # The nodes are on this machine: the update command fills the folder after readiness found room.
                $filler = Join-Path $p.BackupPath 'filler'
                $p.UpdateCommand = "head -c 8m /dev/zero > '$filler-{node}' 2>/dev/null; $($p.UpdateCommand)"
                $run = Invoke-Capturing { Invoke-DfUpgrade @p }
                $run.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeStateUnwritable*'
                $run.Thrown.Exception.Message | Should -BeLike "*$(Join-Path $p.BackupPath 'df-upgrade-state.json')*stopped at step Update*"
                $run.Thrown.ErrorDetails.RecommendedAction | Should -BeLike '*Invoke-DfUpgrade -Resume*Undo-DfUpgrade*'
                (Get-State $cloud).status | Should -Be 'Running'

                Remove-Item "$filler-*"
                $undo = Get-UndoParameters $cloud
                (Undo-DfUpgrade @undo).Status | Should -Not -Contain 'RollbackFailed'
                Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty
            }
            finally { umount $p.BackupPath }
        }
    }

    Context 'secrets, a symlinked backup folder and hostile configuration paths through whole upgrades' {
        BeforeEach { $cloud = (Get-SharedPikeCloud $shared 57).Cloud }

        It 'shows and writes neither Neutron''s nor Redis'' password, through a failed run and a successful one, its backups behind a symlink' {
            $p = Get-UpgradeParameters $cloud
            $user, $redisPassword = (($env:DF_TEST_REDIS_MODULE_USER -split '@')[0]) -split ':', 2
            $p.Database = "redis://$($env:DF_TEST_REDIS_MODULE_USER)/$($cloud.RedisDb)"
            $elsewhere = New-Item -ItemType Directory (Join-Path $cloud.Dir 'elsewhere')
            New-Item -ItemType SymbolicLink -Path $p.BackupPath -Target $elsewhere.FullName | Out-Null
            $since = [datetime]::UtcNow.AddSeconds(-2)

            New-Item $cloud.NeutronFail | Out-Null
            $failed = Invoke-Captured { Invoke-DfUpgrade @p }
            $failed.Error.FullyQualifiedErrorId | Should -BeLike 'UpgradeRolledBack*'
            Remove-Item $cloud.NeutronFail
            $done = Invoke-Captured { Invoke-DfUpgrade @p }
            $done.Error | Should -BeNullOrEmpty
            (Get-Content (Join-Path $elsewhere 'df-upgrade-state.json') -Raw | ConvertFrom-Json).status | Should -Be 'Completed'
            @(Get-ChildItem $elsewhere -Filter 'df-upgrade-*.md').Count | Should -Be 2 -Because 'each run wrote its report'

            $written = @(Get-WrittenText $elsewhere $since) + @(Get-WrittenText $cloud.Dir $since)
            $all = (@($failed.Text, $done.Text) + $written) -join "`n"
            $all | Should -Match 'neutron' -Because 'the search covers what the runs wrote'
            foreach ($secret in @(Get-SecretForms $redisPassword) + @(Get-SecretForms (Get-TestNeutronPassword))) {
                $all.Contains($secret) | Should -BeFalse -Because "no output, record, state file, report or backup holds a password"
            }
        }

        It 'carries a dragonflow.ini path of quotes, ;, $(...), backquotes, unicode and a 220-byte name through a failed upgrade and its rollback, then a whole upgrade' {
            $marker = Join-Path $cloud.Dir 'ran'
            $hostile = "q'u""o ; touch '$marker'; `$(touch $marker) ``touch $marker`` $('é' * 110) ✓"
            $text = Get-Content $cloud.Inventory -Raw
            $text = $text -replace "/(node\d\d)/dragonflow\.ini'", "/`$1/$($hostile.Replace("'", "''").Replace('$', '$$'))/dragonflow.ini'"
            Set-Content $cloud.Inventory $text -Encoding utf8NoBOM
            foreach ($node in Get-DfNode $cloud.Inventory) {
                $node.ConfigFiles[0].Contains($hostile) | Should -BeTrue
                New-Item -ItemType Directory (Split-Path $node.ConfigFiles[0]) -Force | Out-Null
                [IO.File]::Copy($script:PikeIni, $node.ConfigFiles[0])
            }
            $before = Get-CloudPicture $cloud
            @($before.Config).Count | Should -Be 4 -Because 'the two hostile files are pictured beside the original ones'
            $p = Get-UpgradeParameters $cloud

            New-Item $cloud.NeutronFail | Out-Null
            $failed = Invoke-Capturing { Invoke-DfUpgrade @p }
            $failed.Thrown.FullyQualifiedErrorId | Should -BeLike 'UpgradeRolledBack*'
            Remove-Item $cloud.NeutronFail
            Compare-CloudPicture $before (Get-CloudPicture $cloud) | Should -BeNullOrEmpty

            $done = Invoke-Capturing { Invoke-DfUpgrade @p }
            $done.Thrown | Should -BeNullOrEmpty
            foreach ($node in Get-DfNode $cloud.Inventory) {
                Get-Content -LiteralPath $node.ConfigFiles[0] -Raw | Should -Match '(?m)^nb_db_driver = etcd_nb_db_driver$'
            }
            Test-Path $marker | Should -BeFalse
            Get-ChildItem $cloud.Dir -Recurse -Filter 'ran' | Should -BeNullOrEmpty
        }
    }
}
