# An operator's worst night and a hostile user against the whole upgrade: a state file that
# something else took the place of. Each is refused at once with an error naming the file, and
# nothing is stopped or written. No service runs here: the nodes are the test sshd nodes, the
# database a file copy of the Pike sample.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . "$PSScriptRoot/../fixtures/remote/TestCloud.ps1"

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
